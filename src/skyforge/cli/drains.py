"""`skyforge drains`: where a service's app output is forwarded (syslog, HTTP, Loki)."""

from __future__ import annotations

from typing import Annotated

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Project
from skyforge.cli.output import print_json, say, table, when

app = typer.Typer(help="Forward a service's output to syslog, HTTP or Loki.", no_args_is_help=True)

Service = Annotated[str, typer.Argument(help="The service whose output is forwarded.")]


def _path(project: str, service: str, drain_id: str | None = None) -> str:
    path = f"/projects/{segment(project)}/services/{segment(service)}/log-drains"
    return path if drain_id is None else f"{path}/{segment(drain_id)}"


@app.command()
def add(
    service: Service,
    url: Annotated[
        str,
        typer.Argument(
            help="syslog+tls://host:6514, syslog+tcp://..., syslog+udp://..., https://... "
            "(NDJSON), loki+https://host/loki/api/v1/push"
        ),
    ],
    project: Project,
    as_json: Json = False,
) -> None:
    """Forward the service's output, from now on, to URL."""
    with connect() as api:
        drain = api.call("POST", _path(project, service), json={"url": url})
    if as_json:
        print_json(drain)
        return
    say(f"Added log drain {drain['id']} to {service}.", style="green")


@app.command("list")
def list_drains(service: Service, project: Project, as_json: Json = False) -> None:
    """List a service's drains and how forwarding goes."""
    with connect() as api:
        found = api.call("GET", _path(project, service))["items"]
    if as_json:
        print_json(found)
        return
    rows = [
        (
            d["id"],
            d["url"],
            d["delivered"],
            f"failing ({d['failures']}x): {d['last_error']}" if d["failures"] else "ok",
            when(d["created_at"]),
        )
        for d in found
    ]
    table(("ID", "URL", "LINES SENT", "STATUS", "ADDED"), rows, "No log drains yet.")


@app.command()
def remove(
    drain_id: Annotated[str, typer.Argument(help="The drain's id (see `skyforge drains list`).")],
    service: Service,
    project: Project,
) -> None:
    """Stop forwarding to a drain."""
    with connect() as api:
        api.call("DELETE", _path(project, service, drain_id))
    say(f"Removed log drain {drain_id} from {service}.")
