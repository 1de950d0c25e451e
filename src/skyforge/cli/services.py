"""`skyforge services`, `skyforge scale` and `skyforge open`."""

from __future__ import annotations

import contextlib
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer

from skyforge.cli.client import connect, segment, service_path
from skyforge.cli.options import Json, Project, Quiet, Service, Yes, confirm_name
from skyforge.cli.output import fail, fields, ids, note, print_json, say, table, when

app = typer.Typer(help="Create, list, inspect, update and delete services.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Service name.")]


def _scale(scale: dict[str, int]) -> str:
    return " ".join(f"{kind}={count}" for kind, count in sorted(scale.items())) or "-"


def _health(service: dict[str, Any]) -> str:
    within = f"{service['boot_timeout']} s" if service.get("boot_timeout") else "the boot timeout"
    return f"GET {service['health_check_path'] or '/'} gives 2xx/3xx within {within}"


def _status(service: dict[str, Any]) -> str:
    return f"{service['status']} (maintenance)" if service["maintenance"] else service["status"]


def _release(service: dict[str, Any]) -> str:
    return "-" if service["release"] is None else f"v{service['release']}"


@app.command()
def create(
    name: Name,
    project: Project,
    git: Annotated[str, typer.Option(help="Git URL or local path of the repository.")],
    branch: Annotated[str, typer.Option(help="Branch to deploy.")] = "main",
    health_check: Annotated[
        str | None,
        typer.Option(help="Path the app answers 2xx/3xx on when ready, e.g. /health (default /)."),
    ] = None,
    boot_timeout: Annotated[
        int | None,
        typer.Option(
            min=1, max=600, help="Seconds a new web process may take to pass it (default 60)."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Create a service built from a git repository."""
    if Path(git).is_dir():  # a local checkout: the API wants an absolute path
        git = str(Path(git).resolve())
    body: dict[str, Any] = {"name": name, "source": {"git": git, "branch": branch}}
    if health_check is not None:
        body["health_check_path"] = health_check
    if boot_timeout is not None:
        body["boot_timeout"] = boot_timeout
    with connect() as api:
        service = api.call("POST", f"/projects/{segment(project)}/services", json=body)
    if as_json:
        print_json(service)
        return
    say(f"Created service {service['name']} in {service['project']}.", style="green")
    # As the API shows it: credentials in the URL appear as ***.
    note(f"Source: {service['source']['git']} (branch {service['source']['branch']})")
    note(f"Deploy it with: skyforge deploy {service['name']} -p {service['project']}")


@app.command("list")
def list_services(project: Project, as_json: Json = False, quiet: Quiet = False) -> None:
    """List a project's services."""
    with connect() as api:
        services = api.collect(f"/projects/{segment(project)}/services")
    if as_json:
        print_json(services)
        return
    if quiet:
        ids(s["name"] for s in services)
        return
    rows = [(s["name"], _status(s), _release(s), s["url"], _scale(s["scale"])) for s in services]
    table(("NAME", "STATUS", "RELEASE", "URL", "SCALE"), rows, "No services in this project.")


@app.command()
def info(name: Service, project: Project, as_json: Json = False) -> None:
    """Show a service: status, release, URL, source and scale."""
    with connect() as api:
        s = api.call("GET", service_path(project, name))
    if as_json:
        print_json(s)
        return
    fields(
        [
            ("Service", f"{s['name']} (project {s['project']})"),
            ("Status", _status(s)),
            ("Release", _release(s)),
            ("URL", s["url"]),
            ("Source", f"{s['source']['git']} (branch {s['source']['branch']})"),
            ("Scale", _scale(s["scale"])),
            ("Health check", _health(s)),
            ("Maintenance", "on (the edge answers a 503 page)" if s["maintenance"] else "off"),
            ("Created", when(s["created_at"])),
        ]
    )


@app.command()
def update(
    name: Service,
    project: Project,
    branch: Annotated[str | None, typer.Option(help="Branch to deploy from now on.")] = None,
    git: Annotated[
        str | None, typer.Option(help="Git URL or local path of the repository.")
    ] = None,
    health_check: Annotated[
        str | None, typer.Option(help='Path the app answers 200 on; "" for none.')
    ] = None,
    as_json: Json = False,
) -> None:
    """Change a service's branch, repository or health check (the next deploy uses them)."""
    body: dict[str, Any] = {}
    if git is not None or branch is not None:
        if git is not None and Path(git).is_dir():  # a local checkout: the API wants a path
            git = str(Path(git).resolve())
        body["source"] = {k: v for k, v in (("git", git), ("branch", branch)) if v is not None}
    if health_check is not None:
        body["health_check_path"] = health_check
    if not body:
        fail("nothing to change: give --branch, --git or --health-check", code=2)
    with connect() as api:
        s = api.call("PATCH", service_path(project, name), json=body)
    if as_json:
        print_json(s)
        return
    say(f"Updated service {s['name']} in {s['project']}.", style="green")
    note(f"Source: {s['source']['git']} (branch {s['source']['branch']})")
    note(f"Health check: {s['health_check_path'] or '-'}")
    note(f"Deploy it with: skyforge deploy {s['name']} -p {s['project']}")


@app.command()
def delete(name: Name, project: Project, yes: Yes = False) -> None:
    """Delete a service; its processes stop and its URL goes away."""
    with connect() as api:
        api.call("GET", service_path(project, name))  # a typo fails before the prompt
        confirm_name("service", name, yes)
        api.call("DELETE", service_path(project, name))
    say(f"Deleted service {name} from {project}.")


def parse_scale(items: list[str]) -> dict[str, int]:
    """`web=3 worker=1` as {"web": 3, "worker": 1}; anything else is a usage error."""
    scale: dict[str, int] = {}
    for item in items:
        kind, sep, count = item.partition("=")
        if not sep or not kind.strip() or not (count.isascii() and count.isdigit()):
            fail(f"{item!r} is not TYPE=COUNT (for example web=2)", code=2)
        scale[kind.strip()] = int(count)
    return scale


def scale(
    service: Name,
    counts: Annotated[list[str], typer.Argument(help="TYPE=COUNT pairs, e.g. web=3 worker=1.")],
    project: Project,
    as_json: Json = False,
) -> None:
    """Set how many processes of each type run."""
    changes = parse_scale(counts)
    with connect() as api:
        updated = api.call("PATCH", service_path(project, service), json={"scale": changes})
    if as_json:
        print_json(updated)
        return
    counted = _scale(updated["scale"])
    if updated["release"] is None:  # nothing runs yet: the counts wait for the first deploy
        say(f"Saved the scale of {updated['name']}: {counted}.", style="green")
        note(f"It takes effect at the first deploy: skyforge deploy {service} -p {project}")
        return
    say(f"Scaled {updated['name']}: {counted}.", style="green")


def open_service(service: Service, project: Project) -> None:
    """Print a service's URL and open it in a browser."""
    with connect() as api:
        found = api.call("GET", service_path(project, service))
    url = found["url"]
    say(url)
    if found["release"] is None:
        note(f"{service} is not deployed yet: skyforge deploy {service} -p {project}")
    with contextlib.suppress(webbrowser.Error):  # no browser: the printed URL will do
        webbrowser.open(url)
