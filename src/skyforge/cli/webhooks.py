"""`skyforge webhooks`: a project's outgoing webhooks and their delivery log."""

from __future__ import annotations

from typing import Annotated

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Project
from skyforge.cli.output import note, print_json, say, table, when

app = typer.Typer(help="Send a project's events to your URLs, signed.", no_args_is_help=True)

WebhookId = Annotated[str, typer.Argument(help="The webhook's id (see `skyforge webhooks list`).")]


def _path(project: str, webhook_id: str | None = None) -> str:
    path = f"/projects/{segment(project)}/webhooks"
    return path if webhook_id is None else f"{path}/{segment(webhook_id)}"


@app.command()
def add(
    url: Annotated[str, typer.Argument(help="Where events are POSTed (http or https).")],
    project: Project,
    events: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help="An event type, e.g. deploy.succeeded or deploy.*"),
    ] = None,
    as_json: Json = False,
) -> None:
    """Subscribe a URL to event types (default: all); prints the signing secret once."""
    body = {"url": url, "events": events or ["*"]}
    with connect() as api:
        hook = api.call("POST", _path(project), json=body)
    if as_json:
        print_json(hook)
        return
    say(f"Added webhook {hook['id']} for {', '.join(hook['events'])}.", style="green")
    typer.echo(f"Signing secret (shown once, store it now): {hook['secret']}")
    note("Check X-SkyForge-Signature on every request: see the README, 'Webhooks'.")


@app.command("list")
def list_webhooks(project: Project, as_json: Json = False) -> None:
    """List a project's webhooks."""
    with connect() as api:
        found = api.call("GET", _path(project))["items"]
    if as_json:
        print_json(found)
        return
    rows = [
        (h["id"], h["url"], ",".join(h["events"]), "yes" if h["active"] else "no") for h in found
    ]
    table(("ID", "URL", "EVENTS", "ACTIVE"), rows, "No webhooks yet.")


@app.command()
def remove(webhook_id: WebhookId, project: Project) -> None:
    """Delete a webhook; its pending deliveries are dropped."""
    with connect() as api:
        api.call("DELETE", _path(project, webhook_id))
    say(f"Removed webhook {webhook_id}.")


@app.command()
def ping(webhook_id: WebhookId, project: Project) -> None:
    """Send a webhook.ping event now (see `skyforge webhooks deliveries`)."""
    with connect() as api:
        sent = api.call("POST", f"{_path(project, webhook_id)}/ping")
    say(f"Queued delivery {sent['id']}.")


@app.command()
def deliveries(
    webhook_id: WebhookId,
    project: Project,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 20,
    as_json: Json = False,
) -> None:
    """The delivery log: status, attempts, response code and latency."""
    with connect() as api:
        found = api.call(
            "GET", f"{_path(project, webhook_id)}/deliveries", params={"limit": limit}
        )["items"]
    if as_json:
        print_json(found)
        return
    rows = [
        (
            d["id"],
            d["event_type"],
            d["status"],
            str(d["attempts"]),
            str(d["response_code"] or "-"),
            f"{d['latency_ms']} ms" if d["latency_ms"] is not None else "-",
            when(d["created_at"]),
            d["error"] or "",
        )
        for d in found
    ]
    header = ("ID", "EVENT", "STATUS", "TRIES", "CODE", "LATENCY", "CREATED", "ERROR")
    table(header, rows, "No deliveries yet.")
