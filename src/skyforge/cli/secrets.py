"""`skyforge secrets`: encrypted values apps get in their environment."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from skyforge.cli.client import connect, segment, service_path
from skyforge.cli.options import Json, Project
from skyforge.cli.output import fail, note, print_json, say, table, when

app = typer.Typer(
    help="Set, list, read and unset secrets; rotate the master key.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Secret name, e.g. API_KEY.")]
ServiceOption = Annotated[
    str | None,
    typer.Option("--service", "-s", help="Only this service (default: every service)."),
]


def _path(project: str, name: str | None = None) -> str:
    path = f"/projects/{segment(project)}/secrets"
    return path if name is None else f"{path}/{segment(name)}"


def _value(pair: str, stdin: bool) -> tuple[str, str]:
    """NAME and value from NAME=value, from stdin (--stdin) or from a hidden prompt."""
    name, sep, value = pair.partition("=")
    if sep and stdin:
        fail("give the value either as NAME=value or on stdin (--stdin), not both", code=2)
    if not name:
        fail(f"{pair!r} is not NAME=value", code=2)
    if sep:
        return name, value
    if stdin:
        # One trailing newline is what `echo` or a file adds, not part of the secret.
        read = sys.stdin.read()
        return name, read[:-1] if read.endswith("\n") else read
    if not sys.stdin.isatty():
        fail(f"no value for {name}: pass NAME=value, or --stdin to read it", code=2)
    return name, typer.prompt(f"Value of {name}", hide_input=True)


@app.command("set")
def set_secret(
    pair: Annotated[str, typer.Argument(help="NAME=value, or NAME with --stdin.")],
    project: Project,
    service: ServiceOption = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the value from stdin (not shell history).")
    ] = False,
    as_json: Json = False,
) -> None:
    """Set a secret (a new version); the services that see it get a new release."""
    name, value = _value(pair, stdin)
    with connect() as api:
        response = api.send("PUT", _path(project, name), json={"value": value, "service": service})
        api.check(response)
    secret: dict[str, Any] = response.json()
    if as_json:
        print_json(secret)
        return
    where = f"service {secret['service']}" if secret["service"] else f"every service of {project}"
    verb = "Created" if response.status_code == 201 else "Set"
    say(f"{verb} {name} v{secret['version']} for {where}.", style="green")
    note("Deployed services that see it roll out a new release.")


@app.command()
def get(
    name: Name,
    project: Project,
    version: Annotated[int | None, typer.Option(min=1, help="An older version.")] = None,
    as_json: Json = False,
) -> None:
    """Print a secret's value (the read is recorded in the audit log)."""
    params = {"version": version} if version is not None else {}
    with connect() as api:
        found = api.call("GET", f"{_path(project, name)}/value", params=params)
    if as_json:
        print_json(found)
        return
    typer.echo(found["value"])


@app.command("list")
def list_secrets(project: Project, service: ServiceOption = None, as_json: Json = False) -> None:
    """List secrets: names, scope and versions, never values; with --service, also which
    version of each its running release carries (a rollback runs the release's own)."""
    release = None
    with connect() as api:
        query = {}
        if service is not None:
            query["service"] = service
            release = api.call("GET", service_path(project, service)).get("release")
        found = sorted(api.collect(_path(project), query=query), key=lambda s: s["name"])
    if as_json:
        print_json(found)
        return
    heads = ("NAME", "SERVICE", "VERSION", "VERSIONS", "UPDATED")
    rows = [
        (
            s["name"],
            s["service"] or "(all)",
            f"v{s['version']}",
            s["versions"],
            when(s["updated_at"]),
            *([_running(s, release)] if service is not None else []),
        )
        for s in found
    ]
    table((*heads, "RUNNING") if service is not None else heads, rows, "No secrets yet.")
    if release is not None and any(s["in_current_release"] is False for s in found):
        note(
            f"{service}'s running release (v{release}) does not carry the secrets marked "
            f"'not in v{release}': deploy to give it them."
        )


def _running(secret: dict[str, Any], release: int | None) -> str:
    """The version of a secret the service's running release carries, for the table."""
    if release is None:
        return "(no release)"
    if secret["in_current_release"]:
        return f"v{secret['current_release_version']}"
    return f"not in v{release}"


@app.command()
def unset(name: Name, project: Project) -> None:
    """Delete a secret and every version of it; its services get a new release."""
    with connect() as api:
        api.call("DELETE", _path(project, name))
    say(f"Unset {name} in {project}.")


@app.command("rotate-key")
def rotate_key(as_json: Json = False) -> None:
    """Re-wrap every secret under a new master key (organization admins)."""
    with connect() as api:
        done = api.call("POST", "/secrets/rotate-key")
    if as_json:
        print_json(done)
        return
    say(f"Re-wrapped {done['rewrapped']} data key(s) under {done['active_key_id']}.", style="green")
    if done["retired"]:
        note(f"No secret needs {', '.join(done['retired'])} any more.")
