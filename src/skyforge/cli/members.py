"""`skyforge members`: who has which role in a project."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Project, Yes
from skyforge.cli.output import fail, print_json, say, table, when

app = typer.Typer(help="Add, list, change and remove project members.", no_args_is_help=True)


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    developer = "developer"
    viewer = "viewer"


Email = Annotated[str, typer.Argument(help="The user's e-mail address.")]
RoleOption = Annotated[
    Role, typer.Option(help="owner and admin manage members, developer deploys, viewer reads.")
]


def _path(project: str, email: str | None = None) -> str:
    path = f"/projects/{segment(project)}/members"
    return path if email is None else f"{path}/{segment(email)}"


@app.command()
def add(email: Email, role: RoleOption, project: Project, as_json: Json = False) -> None:
    """Give a user (who has an account) a role in a project."""
    with connect() as api:
        added = api.call("POST", _path(project), json={"email": email, "role": role.value})
    if as_json:
        print_json(added)
        return
    say(f"Added {added['email']} to {project} as {added['role']}.", style="green")


@app.command("list")
def list_members(project: Project, as_json: Json = False) -> None:
    """List a project's members and their roles."""
    with connect() as api:
        found: list[dict[str, Any]] = api.call("GET", _path(project))["items"]
    if as_json:
        print_json(found)
        return
    rows = [(m["email"], m["name"], m["role"], when(m["since"])) for m in found]
    table(("EMAIL", "NAME", "ROLE", "SINCE"), rows, "No members in this project.")


@app.command("set")
def set_role(email: Email, role: RoleOption, project: Project, as_json: Json = False) -> None:
    """Change a member's role."""
    with connect() as api:
        changed = api.call("PATCH", _path(project, email), json={"role": role.value})
    if as_json:
        print_json(changed)
        return
    say(f"{changed['email']} is now {changed['role']} in {project}.", style="green")


@app.command()
def remove(email: Email, project: Project, yes: Yes = False) -> None:
    """Take a user out of a project."""
    with connect() as api:
        found = api.call("GET", _path(project))["items"]
        if not any(m["email"] == email.strip().lower() for m in found):
            fail(f"{email} is not a member of {project}")  # before the prompt
        if not yes and not typer.confirm(f"Remove {email} from {project}?"):
            fail(f"{email} was not removed")
        api.call("DELETE", _path(project, email))
    say(f"Removed {email} from {project}.")
