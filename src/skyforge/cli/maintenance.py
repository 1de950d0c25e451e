"""`skyforge maintenance on|off`: the edge answers a 503 maintenance page; the app keeps running."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from skyforge.cli.client import connect, service_path
from skyforge.cli.options import Json, Project, Service
from skyforge.cli.output import note, print_json, say


class Switch(StrEnum):
    on = "on"
    off = "off"


def maintenance(
    switch: Annotated[Switch, typer.Argument(help="on: show the maintenance page; off: the app.")],
    service: Service,
    project: Project,
    as_json: Json = False,
) -> None:
    """Put a service in maintenance (every request answers a 503 page) or take it out; its
    processes keep running either way."""
    wanted = switch is Switch.on
    with connect() as api:
        s = api.call("PATCH", service_path(project, service), json={"maintenance": wanted})
    if as_json:
        print_json(s)
        return
    if wanted:
        say(f"{s['name']} is in maintenance: {s['url']} answers a 503 page.", style="yellow")
        note(f"End it with: skyforge maintenance off {s['name']} -p {s['project']}")
    else:
        say(f"{s['name']} is out of maintenance: {s['url']} serves the app.", style="green")
