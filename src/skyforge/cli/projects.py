"""`skyforge projects`: create, list and delete projects."""

from __future__ import annotations

from typing import Annotated

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Quiet, Yes, confirm_name
from skyforge.cli.output import ids, print_json, say, table, when

app = typer.Typer(help="Create, list and delete projects.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Project name.")]


@app.command()
def create(name: Name, as_json: Json = False) -> None:
    """Create a project."""
    with connect() as api:
        project = api.call("POST", "/projects", json={"name": name})
    if as_json:
        print_json(project)
        return
    say(f"Created project {project['name']}.", style="green")


@app.command("list")
def list_projects(as_json: Json = False, quiet: Quiet = False) -> None:
    """List projects."""
    with connect() as api:
        projects = api.collect("/projects")
    if as_json:
        print_json(projects)
        return
    if quiet:
        ids(p["name"] for p in projects)
        return
    rows = [(p["name"], ", ".join(p["environments"]), when(p["created_at"])) for p in projects]
    table(("NAME", "ENVIRONMENTS", "CREATED"), rows, "No projects yet: `skyforge projects create`.")


@app.command()
def delete(name: Name, yes: Yes = False) -> None:
    """Delete a project with all its services (their apps stop)."""
    with connect() as api:
        api.call("GET", f"/projects/{segment(name)}")  # a typo fails before the prompt
        confirm_name("project", name, yes)
        api.call("DELETE", f"/projects/{segment(name)}")
    say(f"Deleted project {name}.")
