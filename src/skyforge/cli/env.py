"""`skyforge env`: a service's config vars (a change rolls out a new release)."""

from __future__ import annotations

from typing import Annotated

import typer

from skyforge.cli.client import connect, service_path
from skyforge.cli.options import Json, Project
from skyforge.cli.output import fail, note, print_json, say

app = typer.Typer(help="Print, set and unset a service's config vars.", no_args_is_help=True)

Service = Annotated[str, typer.Argument(help="Service name.")]


@app.command()
def get(
    service: Service,
    project: Project,
    name: Annotated[str | None, typer.Argument(help="Print only this var's value.")] = None,
    as_json: Json = False,
) -> None:
    """Print the config vars as NAME=value lines (or one var's value)."""
    with connect() as api:
        config: dict[str, str] = api.call("GET", f"{service_path(project, service)}/env")
    if name is not None:
        if name not in config:
            fail(f"{name} is not set on {service}")
        if as_json:
            print_json(config[name])
        else:
            typer.echo(config[name])
        return
    if as_json:
        print_json(config)
        return
    for key in sorted(config):
        typer.echo(f"{key}={config[key]}")
    if not config:
        note(f"No config vars set on {service}.")


def _parse(pairs: list[str]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"{pair!r} is not NAME=value", code=2)
        changes[name] = value
    return changes


def _apply(project: str, service: str, changes: dict[str, str | None], done: str) -> None:
    """One PATCH, then what happens next."""
    with connect() as api:
        api.call("PATCH", f"{service_path(project, service)}/env", json=changes)
        found = api.call("GET", service_path(project, service))
        latest = api.collect(f"{service_path(project, service)}/deploys", limit=1)
    say(done, style="green")
    if found["release"] is None or not latest:
        note(f"{service} is not deployed yet: the first deploy uses them.")
    else:
        note("A new release with this config is rolling out. Follow it with:")
        note(f"  skyforge deploys logs {latest[0]['id']} {service} -p {project}")


@app.command("set")
def set_vars(
    service: Service,
    project: Project,
    pairs: Annotated[list[str], typer.Argument(help="NAME=value pairs.", show_default=False)],
) -> None:
    """Set config vars (one change, one new release)."""
    changes = _parse(pairs)
    _apply(project, service, changes, f"Set {', '.join(changes)} on {service}.")


@app.command()
def unset(
    service: Service,
    project: Project,
    names: Annotated[list[str], typer.Argument(help="Names of the vars to remove.")],
) -> None:
    """Remove config vars (one change, one new release)."""
    changes: dict[str, str | None] = dict.fromkeys(names)
    _apply(project, service, changes, f"Unset {', '.join(names)} on {service}.")
