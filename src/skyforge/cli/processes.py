"""`skyforge ps`, `skyforge restart` and `skyforge run`."""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

import typer

from skyforge.cli import follow as following
from skyforge.cli.client import connect, segment, service_path
from skyforge.cli.options import Follow, Json, Project
from skyforge.cli.output import fail, note, print_json, say, table

Service = Annotated[str, typer.Argument(help="Service name.")]
EXIT_TRAILER = "skyforge-exit-status: "  # the API's last line of a run: its exit status


def age(started_at: str, now: float | None = None) -> str:
    """How long ago, shortly: 42s, 5m, 3h, 2d."""
    seconds = max(0, int((now or time.time()) - datetime.fromisoformat(started_at).timestamp()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ps(service: Service, project: Project, as_json: Json = False) -> None:
    """List a service's processes: state, restarts, age, release."""
    with connect() as api:
        found = api.call("GET", f"{service_path(project, service)}/processes")["items"]
    if as_json:
        print_json(found)
        return
    rows = [
        (
            p["name"],
            p["state"],
            p["restarts"],
            age(p["started_at"]),
            f"v{p['release']}",
            p["port"] or "",
        )
        for p in found
    ]
    table(
        ("PROCESS", "STATE", "RESTARTS", "AGE", "RELEASE", "PORT"),
        rows,
        f"No processes run for {service} (not deployed, or scaled to 0).",
    )


def restart(
    service: Service,
    project: Project,
    process: Annotated[
        str | None, typer.Argument(help="Process type to restart, e.g. web (default: all).")
    ] = None,
    follow: Follow = True,
) -> None:
    """Restart a service's processes with zero downtime.

    New instances of the current release start and serve before the old ones stop."""
    body = {"process": process} if process is not None else None
    with connect() as api:
        queued = api.call("POST", f"{service_path(project, service)}/restart", json=body)
        what = process or "every process"
        say(f"Restarting {what} of {service} in {project} (deploy {queued['id']})")
        if not follow:
            note(f"Follow it with: skyforge deploys logs {queued['id']} {service} -p {project}")
            return
        path = f"{service_path(project, service)}/deploys/{segment(queued['id'])}/logs"
        with following.until_interrupted("Stopped following; the restart goes on."):
            with api.stream(path) as chunks:
                following.echo_stream(chunks)
            final = following.wait_finished(api, project, service, queued["id"])
    if final["status"] != "succeeded":
        fail(f"restart {final['id']} {final['status']}: {final.get('error') or 'see above'}")
    say(f"Restarted {what} of {service} (v{final['release']}).", style="green")


def run(
    service: Service,
    project: Project,
    command: Annotated[
        list[str], typer.Argument(help="The command and its arguments, after `--`.")
    ],
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background; output in the logs.")
    ] = False,
) -> None:
    """Run a one-off command in the release's environment and sandbox.

    For example: skyforge run web -p shop -- python manage.py migrate

    The command is not run through a shell. Exits with its exit status (124: timed out)."""
    body = {"command": shlex.join(command), "detach": detach}
    path = f"{service_path(project, service)}/runs"
    with connect() as api:
        if detach:
            started = api.call("POST", path, json=body)
            say(f"Started {started['id']} of {service} in the background.")
            note(f"See its output with: skyforge logs {service} -p {project} --process run")
            return
        stopped = following.until_interrupted("Stopped; the command was ended.")
        with stopped, api.stream(path, method="POST", body=body) as chunks:
            code = _echo_run(chunks)
    if code is None:
        fail("the run ended without an exit status (the connection was cut)")
    raise typer.Exit(code)


def _echo_run(chunks: Iterator[str]) -> int | None:
    """Print the output as it comes; the exit status from the trailer (None: none came)."""
    held: str | None = None  # a line that looks like the trailer: printed if more follows
    pending = ""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split("\n")
        for line in lines:
            if held is not None:
                typer.echo(held)
                held = None
            if line.startswith(EXIT_TRAILER):
                held = line
            else:
                typer.echo(line)
    if pending:
        if held is not None:
            typer.echo(held)
        typer.echo(pending, nl=False)
        return None
    if held is None:
        return None
    status = held.removeprefix(EXIT_TRAILER)
    return int(status) if status.lstrip("-").isdigit() else None
