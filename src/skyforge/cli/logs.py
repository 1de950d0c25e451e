"""`skyforge logs`: the running app's output, searched or followed live (Server-Sent Events)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer

from skyforge.cli.client import Api, connect, service_path
from skyforge.cli.follow import echo_stream, until_interrupted
from skyforge.cli.options import Project, Service
from skyforge.cli.output import fail, note

_RECONNECT_FOR = 60.0  # seconds a dropped stream keeps trying before giving up


def logs(
    service: Service,
    project: Project,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    tail: Annotated[
        int,
        typer.Option(
            min=0, max=10000, help="Start with this many recent lines (of those that match)."
        ),
    ] = 100,
    since: Annotated[
        str | None, typer.Option(help="From this time: 2026-01-31T12:00:00Z, or 15m, 2h, 1d ago.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time (same forms).")] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", "-g", help="Only lines containing this (any case).")
    ] = None,
    process: Annotated[str | None, typer.Option(help="Only this process: web, web.1...")] = None,
    release: Annotated[str | None, typer.Option(help="Only this release: 3 or v3.")] = None,
) -> None:
    """Print a service's output (every process); -f keeps following it.

    Every filter combines with the others, with --tail and with -f (which prints only the new
    lines that match)."""
    if follow and until:
        fail("--until cannot be combined with -f: following prints lines as they come")
    path = f"{service_path(project, service)}/logs"
    filters = {"since": since, "until": until, "q": grep, "process": process, "release": release}
    params: dict[str, Any] = {k: v for k, v in filters.items() if v} | {"tail": tail}
    with connect() as api, until_interrupted():
        if follow:
            follow_events(api, path, params)
        else:
            with api.stream(path, headers={"Accept": "text/plain"}, **params) as chunks:
                echo_stream(chunks)


def show(item: dict[str, Any]) -> None:
    """One line as `skyforge logs` prints it: time (UTC, seconds), process, text."""
    at = datetime.fromisoformat(item["time"]).isoformat(timespec="seconds")
    typer.echo(f"{at} {item['process']}: {item['line']}")


def events(lines: Iterator[str]) -> Iterator[tuple[str | None, str, str]]:
    """(id, event, data) of each Server-Sent Event (comments and retry: are skipped)."""
    event_id: str | None = None
    kind, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield event_id, kind, "\n".join(data)
            kind, data = "message", list[str]()
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            kind = value
        elif field == "data":
            data.append(value)


def follow_events(api: Api, path: str, params: dict[str, Any]) -> None:
    """Print lines (those matching `params`' filters) as they come; a dropped connection resumes
    where it was (Last-Event-ID)."""
    last: str | None = None
    while True:
        headers = {"Accept": "text/event-stream"}
        if last is not None:
            headers["Last-Event-ID"] = last
        with api.stream(path, headers=headers, follow="true", **params) as chunks:
            # Caught in here: past the `with`, the client would turn a drop into an error.
            try:
                for event_id, kind, data in events(_lines(chunks)):
                    if kind == "error":  # e.g. the token was revoked: reconnecting won't help
                        fail(f"the log stream ended: {json.loads(data).get('detail', data)}")
                    last = event_id or last
                    item = json.loads(data) if kind == "log" else None
                    if item:
                        show(item)
            except (httpx.TransportError, json.JSONDecodeError):
                pass
        note("(the log stream was interrupted: reconnecting)")
        _wait_reachable(api)


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    pending = ""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line.removesuffix("\r")


def _wait_reachable(api: Api) -> None:
    deadline = time.monotonic() + _RECONNECT_FOR
    delay = 0.25
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api.url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    fail(f"SkyForge at {api.url} has not come back for {_RECONNECT_FOR:.0f} s")
