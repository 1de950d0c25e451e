"""`skyforge logs`: the running app's output."""

from __future__ import annotations

from typing import Annotated

import typer

from skyforge.cli.client import connect, service_path
from skyforge.cli.follow import echo_stream, until_interrupted
from skyforge.cli.options import Project


def logs(
    service: Annotated[str, typer.Argument(help="Service name.")],
    project: Project,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    tail: Annotated[
        int, typer.Option(min=0, max=10000, help="Start with this many recent lines.")
    ] = 100,
) -> None:
    """Print a service's output (every process); -f keeps following it."""
    path = f"{service_path(project, service)}/logs"
    params = {"follow": str(follow).lower(), "tail": tail}
    with connect() as api, until_interrupted(), api.stream(path, **params) as chunks:
        echo_stream(chunks)
