"""`skyforge db`: managed PostgreSQL and Redis databases, attached to services as secrets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Project
from skyforge.cli.output import note, print_json, say, table, when

app = typer.Typer(
    help="Create, attach, back up, restore and delete managed databases.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Database name (a DNS label), e.g. main.")]
Service = Annotated[str, typer.Argument(help="The service that gets the URL.")]


def _path(project: str, name: str | None = None, rest: str = "") -> str:
    path = f"/projects/{segment(project)}/databases"
    return path if name is None else f"{path}/{segment(name)}{rest}"


def _show(found: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        print_json(found)
        return
    say(f"{verb} {found['engine']} database {found['name']} ({found['status']}).", style="green")


@app.command()
def create(
    name: Name,
    project: Project,
    engine: Annotated[str, typer.Option("--engine", "-e", help="postgres or redis.")] = "postgres",
    as_json: Json = False,
) -> None:
    """Ask for a database; it is provisioned in the background (see `db list`)."""
    with connect() as api:
        found = api.call("POST", _path(project), json={"name": name, "engine": engine})
    _show(found, as_json, "Requested")
    if not as_json:
        note(f"Attach it with: skyforge db attach {name} SERVICE -p {project}")


@app.command("list")
def list_databases(project: Project, as_json: Json = False) -> None:
    """List a project's databases and their states."""
    with connect() as api:
        found = api.call("GET", _path(project))["items"]
    if as_json:
        print_json(found)
        return
    rows = [
        (d["name"], d["engine"], d["status"], d["reason"] or "", when(d["created_at"]))
        for d in found
    ]
    table(("NAME", "ENGINE", "STATUS", "REASON", "CREATED"), rows, "No databases yet.")


@app.command()
def attach(
    name: Name,
    service: Service,
    project: Project,
    var: Annotated[
        str | None, typer.Option("--as", help="The variable (default DATABASE_URL/REDIS_URL).")
    ] = None,
) -> None:
    """Give a service the database's URL as a secret; it gets a new release."""
    body = {"service": service} if var is None else {"service": service, "as": var}
    with connect() as api:
        done = api.call("POST", _path(project, name, "/attachments"), json=body)
    say(f"Attached {name} to {service} as {done['as']}.", style="green")


@app.command()
def detach(name: Name, service: Service, project: Project) -> None:
    """Remove the database's URL from a service; it gets a new release."""
    with connect() as api:
        api.call("DELETE", _path(project, name, f"/attachments/{segment(service)}"))
    say(f"Detached {name} from {service}.")


@app.command()
def backup(name: Name, project: Project, as_json: Json = False) -> None:
    """Back up a PostgreSQL database now."""
    with connect() as api:
        done = api.call("POST", _path(project, name, "/backups"))
    if as_json:
        print_json(done)
        return
    say(f"Backed up {name}: {done['id']} ({done['size']} bytes).", style="green")


@app.command()
def restore(
    name: Name,
    project: Project,
    backup_id: Annotated[str, typer.Option("--backup", help="A backup id of NAME.")],
    into: Annotated[str, typer.Option("--into", help="The new database's name.")],
    as_json: Json = False,
) -> None:
    """Make a NEW database from a backup."""
    with connect() as api:
        body = {"backup": backup_id, "into": into}
        found = api.call("POST", _path(project, name, "/restore"), json=body)
    _show(found, as_json, "Restoring")


@app.command()
def delete(
    name: Name,
    project: Project,
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="The name again, instead of the prompt.")
    ] = None,
) -> None:
    """Delete a database (PostgreSQL: after a final backup, which is kept)."""
    if confirm is None:
        confirm = typer.prompt(f"Type {name} to delete it")
    with connect() as api:
        api.call("DELETE", _path(project, name), json={"confirm": confirm})
    say(f"Deleted {name}.")
