"""Options shared by many commands."""

from __future__ import annotations

from typing import Annotated

import typer

from skyforge.cli.remote import inferred_project, inferred_service

Project = Annotated[
    str,
    typer.Option(
        "--project",
        "-p",
        envvar="SKYFORGE_PROJECT",
        show_envvar=True,
        default_factory=inferred_project,
        show_default="from the `skyforge` git remote",
        help="Project name.",
    ),
]
Service = Annotated[
    str,
    typer.Argument(
        default_factory=inferred_service,
        show_default="from the `skyforge` git remote",
        help="Service name.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print raw JSON (for scripts).")]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the ids, one a line (for scripts).")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Follow = Annotated[
    bool, typer.Option("--follow/--no-follow", help="Stream the deploy's output until it ends.")
]


def confirm_name(kind: str, name: str, yes: bool) -> None:
    """Unless `yes`, make the user type `name` before something is deleted."""
    from skyforge.cli.output import fail

    if yes:
        return
    typed = typer.prompt(f"This deletes the {kind} {name!r}. Type its name to confirm")
    if typed.strip() != name:
        fail(f"the name did not match; the {kind} was not deleted")
