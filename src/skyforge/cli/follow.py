"""Following a deploy: its output as it comes, then its outcome as the exit code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from skyforge.cli.client import Api, segment, service_path
from skyforge.cli.output import fail, note, say

FINISHED = ("succeeded", "failed", "cancelled")


def echo_stream(chunks: Iterator[str]) -> None:
    """Copy text to stdout as it arrives."""
    for chunk in chunks:
        typer.echo(chunk, nl=False)


@contextmanager
def until_interrupted(hint: str | None = None) -> Iterator[None]:
    """Ctrl-C ends the command quietly (exit 130), after an optional hint."""
    try:
        yield
    except KeyboardInterrupt:
        if hint:
            note(f"\n{hint}")
        raise typer.Exit(130) from None


def wait_finished(api: Api, project: str, service: str, deploy_id: str) -> dict[str, Any]:
    """The deploy once it has finished (the log stream may end before the status does)."""
    path = f"{service_path(project, service)}/deploys/{segment(deploy_id)}"
    while True:
        deploy: dict[str, Any] = api.call("GET", path)
        if deploy["status"] in FINISHED:
            return deploy
        time.sleep(0.5)


def follow_deploy(api: Api, project: str, service: str, deploy: dict[str, Any]) -> None:
    """Stream the deploy's logs, then report how it ended; exit 1 unless it succeeded."""
    deploy_id = deploy["id"]
    hint = (
        "Stopped following; the deploy goes on. Cancel it with: "
        f"skyforge deploys cancel {deploy_id} {service} -p {project}"
    )
    path = f"{service_path(project, service)}/deploys/{segment(deploy_id)}/logs"
    with until_interrupted(hint):
        with api.stream(path) as chunks:
            echo_stream(chunks)
        final = wait_finished(api, project, service, deploy_id)
    report(api, project, service, final)


def report(api: Api, project: str, service: str, deploy: dict[str, Any]) -> None:
    """Say how a finished deploy ended; a failed or cancelled one exits 1."""
    if deploy["status"] == "failed":
        fail(f"deploy {deploy['id']} failed: {deploy.get('error') or 'see the output above'}")
    if deploy["status"] == "cancelled":
        fail(f"deploy {deploy['id']} was cancelled; the previous release keeps serving")
    found = api.call("GET", service_path(project, service))
    say(f"Deployed v{deploy['release']} to {found['url']}", style="green")


def start(api: Api, project: str, service: str, deploy: dict[str, Any], follow: bool) -> None:
    """After a deploy was queued: follow it, or say how to."""
    if follow:
        follow_deploy(api, project, service, deploy)
        return
    say(f"Deploy {deploy['id']} is {deploy['status']}.")
    note(f"Follow it with: skyforge deploys logs {deploy['id']} {service} -p {project}")
