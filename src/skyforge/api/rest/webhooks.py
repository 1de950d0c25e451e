"""Outgoing webhooks of a project: /api/v1/projects/{project}/webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from skyforge.api.auth import allow
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Limit, decode, page
from skyforge.api.rest.schemas.webhooks import (
    AttemptRead,
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from skyforge.webhooks import queries
from skyforge.webhooks.commands import (
    CreateWebhook,
    DeleteWebhook,
    PingWebhook,
    Redeliver,
    RotateWebhookSecret,
    UpdateWebhook,
)
from skyforge.webhooks.model import Delivery, Webhook

router = APIRouter(prefix="/api/v1/projects/{project}/webhooks", tags=["webhooks"])
READ = [Depends(allow("webhook.read"))]
MANAGE = [Depends(allow("webhook.manage"))]


def read(w: Webhook) -> WebhookRead:
    return WebhookRead(
        id=w.id,
        project=w.project,
        url=w.url,
        events=list(w.events),
        active=w.active,
        created_at=w.created_at,
        updated_at=w.updated_at,
    )


def with_secret(w: Webhook, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**read(w).model_dump(), secret=secret)


def delivery(d: Delivery) -> dict[str, Any]:
    last = d.last
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "response_code": last.status_code if last else None,
        "latency_ms": last.latency_ms if last else None,
        "error": last.error if last else None,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
        "log": [
            AttemptRead(at=a.at, status_code=a.status_code, latency_ms=a.latency_ms, error=a.error)
            for a in d.log
        ],
    }


@router.post("", status_code=201, response_model=WebhookWithSecret, dependencies=MANAGE)
async def create_webhook(
    project: str, body: WebhookCreate, platform: PlatformDep
) -> WebhookWithSecret:
    """Subscribe a URL to event types; the answer carries the signing secret, once."""
    command = CreateWebhook(project, body.url, tuple(body.events))
    webhook, secret = await platform.bus.handle(command)
    return with_secret(webhook, secret)


@router.get("", response_model=WebhookPage, dependencies=READ)
async def list_webhooks(project: str, platform: PlatformDep) -> dict[str, Any]:
    """A project's webhooks, oldest first (never their secrets)."""
    found = await queries.list_webhooks(project, platform.uow())
    return {"items": [read(w) for w in found], "next_cursor": None}


@router.get("/{webhook_id}", response_model=WebhookRead, dependencies=READ)
async def get_webhook(project: str, webhook_id: str, platform: PlatformDep) -> WebhookRead:
    """One webhook (never its secret)."""
    return read(await queries.get_webhook(project, webhook_id, platform.uow()))


@router.patch("/{webhook_id}", response_model=WebhookRead, dependencies=MANAGE)
async def update_webhook(
    project: str, webhook_id: str, body: WebhookUpdate, platform: PlatformDep
) -> WebhookRead:
    """Change the URL, the event types or `active`."""
    events = None if body.events is None else tuple(body.events)
    command = UpdateWebhook(project, webhook_id, body.url, events, body.active)
    return read(await platform.bus.handle(command))


@router.delete("/{webhook_id}", status_code=204, dependencies=MANAGE)
async def delete_webhook(project: str, webhook_id: str, platform: PlatformDep) -> Response:
    """Unsubscribe; its pending deliveries are dropped."""
    await platform.bus.handle(DeleteWebhook(project, webhook_id))
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret, dependencies=MANAGE)
async def rotate_secret(project: str, webhook_id: str, platform: PlatformDep) -> WebhookWithSecret:
    """A new signing secret, shown once; deliveries are signed with it from now on."""
    webhook, secret = await platform.bus.handle(RotateWebhookSecret(project, webhook_id))
    return with_secret(webhook, secret)


@router.post(
    "/{webhook_id}/ping", status_code=202, response_model=DeliveryRead, dependencies=MANAGE
)
async def ping(project: str, webhook_id: str, platform: PlatformDep) -> dict[str, Any]:
    """Send a `webhook.ping` event now, to test the receiver; see the delivery log."""
    return delivery(await platform.bus.handle(PingWebhook(project, webhook_id)))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, dependencies=READ)
async def list_deliveries(
    project: str,
    webhook_id: str,
    platform: PlatformDep,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The delivery log, newest first: status, attempts, response code, latency."""
    found = await queries.list_deliveries(
        project, webhook_id, decode(cursor), limit, platform.uow()
    )
    return page([delivery(d) for d in found], limit, found[-1].id if found else "")


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryDetail, dependencies=READ
)
async def get_delivery(
    project: str, webhook_id: str, delivery_id: str, platform: PlatformDep
) -> dict[str, Any]:
    """One delivery with the body that was sent."""
    found = await queries.get_delivery(project, webhook_id, delivery_id, platform.uow())
    return {**delivery(found), "body": found.body}


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryRead,
    dependencies=MANAGE,
)
async def redeliver(
    project: str, webhook_id: str, delivery_id: str, platform: PlatformDep
) -> dict[str, Any]:
    """Send a delivery again now (same body, fresh signature and attempts)."""
    command = Redeliver(project, webhook_id, delivery_id)
    return delivery(await platform.bus.handle(command))
