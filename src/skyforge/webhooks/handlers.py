"""Webhook use cases: subscriptions, turning committed events into deliveries, and attempts."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from skyforge.kernel.clock import now
from skyforge.kernel.errors import Invalid, NotFound
from skyforge.kernel.ids import new_id
from skyforge.kernel.stream import Envelope
from skyforge.webhooks.commands import (
    CreateWebhook,
    DeleteWebhook,
    PingWebhook,
    Redeliver,
    RotateWebhookSecret,
    UpdateWebhook,
)
from skyforge.webhooks.events import (
    WebhookCreated,
    WebhookDeleted,
    WebhookSecretRotated,
    WebhookUpdated,
)
from skyforge.webhooks.model import (
    ALL,
    MAX_EVENTS,
    PING,
    SIGNATURE_HEADER,
    Attempt,
    Delivery,
    RetryPolicy,
    Status,
    Webhook,
    sign,
)
from skyforge.webhooks.ports import (
    CheckTarget,
    Cipher,
    FindProject,
    Sender,
    UnitOfWorkFactory,
    WebhooksUnitOfWork,
)

USER_AGENT = "SkyForge-Webhooks/1"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, as Stripe's: tells the secret apart)


@dataclass
class Deps:
    """What the use cases need, filled by bootstrap."""

    uow: UnitOfWorkFactory
    cipher: Cipher
    check_target: CheckTarget
    find_project: FindProject
    known_events: frozenset[str]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    wake: Callable[[], None] = lambda: None  # the delivery worker: there is work


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def events_of(requested: tuple[str, ...], known: frozenset[str]) -> tuple[str, ...]:
    """The subscription, validated: "*", known types, or "family.*" of a known family."""
    if not requested:
        raise Invalid('events: give at least one event type, or ["*"] for all')
    if len(requested) > MAX_EVENTS:
        raise Invalid(f"events: at most {MAX_EVENTS}")
    if ALL in requested:
        return (ALL,)
    families = {t.split(".", 1)[0] for t in known}
    result: list[str] = []
    for name in requested:
        family = name[:-2] if name.endswith(".*") else None
        if name not in known and family not in families:
            shown = name if len(name) <= 60 else name[:57] + "..."
            raise Invalid(f"events: {shown!r} is not an event type (see the README's list)")
        if name not in result:
            result.append(name)
    return tuple(result)


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "-"


async def _of_project(uow: WebhooksUnitOfWork, project: str, webhook_id: str) -> Webhook:
    webhook = await uow.webhooks.get(project, webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook {webhook_id!r} in project {project!r}")
    return webhook


async def create_webhook(cmd: CreateWebhook, deps: Deps) -> tuple[Webhook, str]:
    """Subscribe a URL; the signing secret is returned here once, stored only sealed."""
    events = events_of(cmd.events, deps.known_events)
    project = await deps.find_project(cmd.project)
    url = await deps.check_target(cmd.url)  # outside the transaction: it may resolve a name
    secret, at, webhook_id = new_secret(), now(), new_id()
    binding = f"webhook:{webhook_id}".encode()
    webhook = Webhook(
        id=webhook_id,
        project_id=project.id,
        project=project.name,
        url=url,
        events=events,
        active=True,
        sealed_secret=deps.cipher.seal(secret.encode(), binding),
        created_at=at,
        updated_at=at,
    )
    async with deps.uow() as uow:
        await uow.webhooks.add(webhook)
        uow.emit(WebhookCreated(project.name, webhook.id, host_of(url), events))
        await uow.commit()
    return webhook, secret


async def update_webhook(cmd: UpdateWebhook, deps: Deps) -> Webhook:
    """Change the URL, the event types or whether it is active."""
    events = None if cmd.events is None else events_of(cmd.events, deps.known_events)
    url = None if cmd.url is None else await deps.check_target(cmd.url)
    async with deps.uow() as uow:
        webhook = await _of_project(uow, cmd.project, cmd.webhook_id)
        webhook.url = url or webhook.url
        webhook.events = events or webhook.events
        webhook.active = webhook.active if cmd.active is None else cmd.active
        webhook.updated_at = now()
        await uow.webhooks.save(webhook)
        uow.emit(
            WebhookUpdated(
                webhook.project, webhook.id, host_of(webhook.url), webhook.events, webhook.active
            )
        )
        await uow.commit()
    return webhook


async def delete_webhook(cmd: DeleteWebhook, deps: Deps) -> None:
    """Unsubscribe; pending deliveries go with it."""
    async with deps.uow() as uow:
        webhook = await _of_project(uow, cmd.project, cmd.webhook_id)
        await uow.webhooks.remove(webhook.id)
        uow.emit(WebhookDeleted(webhook.project, webhook.id))
        await uow.commit()


async def rotate_secret(cmd: RotateWebhookSecret, deps: Deps) -> tuple[Webhook, str]:
    """A new signing secret, returned once; the old one signs nothing from now on."""
    secret = new_secret()
    async with deps.uow() as uow:
        webhook = await _of_project(uow, cmd.project, cmd.webhook_id)
        webhook.sealed_secret = deps.cipher.seal(secret.encode(), webhook.binding)
        webhook.updated_at = now()
        await uow.webhooks.save(webhook)
        uow.emit(WebhookSecretRotated(webhook.project, webhook.id))
        await uow.commit()
    return webhook, secret


async def reseal_secrets(deps: Deps) -> int:
    """Seal every signing secret again under the active master key (after a rotation, before
    the old key is retired); how many."""
    async with deps.uow() as uow:
        found = await uow.webhooks.all()
        for webhook in found:
            plain = deps.cipher.open(webhook.sealed_secret, webhook.binding)
            webhook.sealed_secret = deps.cipher.seal(plain, webhook.binding)
            await uow.webhooks.save(webhook)
        await uow.commit()
    return len(found)


def _body(envelope: Envelope, webhook_id: str) -> str:
    return json.dumps({**envelope.to_json(), "webhook_id": webhook_id}, separators=(",", ":"))


def _delivery(webhook: Webhook, envelope: Envelope) -> Delivery:
    at = now()
    return Delivery(
        id=new_id(),
        webhook_id=webhook.id,
        project=webhook.project,
        event_id=envelope.id,
        event_type=envelope.type,
        body=_body(envelope, webhook.id),
        status=Status.PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )


async def on_event(envelope: Envelope, deps: Deps) -> int:
    """A committed event: a delivery for every active webhook of its project that wants it.

    Idempotent: the same event seen again (the feed delivers at least once) adds nothing."""
    if envelope.subject == "-":
        return 0  # platform-wide events belong to no project's webhooks
    async with deps.uow() as uow:
        added = 0
        for webhook in await uow.webhooks.of_project(envelope.subject):
            if webhook.wants(envelope.type):
                added += await uow.webhook_deliveries.add_once(_delivery(webhook, envelope))
        await uow.commit()
    if added:
        deps.wake()
    return added


async def ping(cmd: PingWebhook, deps: Deps) -> Delivery:
    """Queue a `webhook.ping` delivery (whatever the subscription) to test the receiver."""
    async with deps.uow() as uow:
        webhook = await _of_project(uow, cmd.project, cmd.webhook_id)
        envelope = Envelope(
            new_id(), PING, webhook.project, now(), None, {"events": list(webhook.events)}
        )
        delivery = _delivery(webhook, envelope)
        await uow.webhook_deliveries.add_once(delivery)
        await uow.commit()
    deps.wake()
    return delivery


async def redeliver(cmd: Redeliver, deps: Deps) -> Delivery:
    """Send a delivery again now (the same body, a new signature), whatever its status."""
    async with deps.uow() as uow:
        webhook = await _of_project(uow, cmd.project, cmd.webhook_id)
        delivery = await uow.webhook_deliveries.get(webhook.id, cmd.delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery {cmd.delivery_id!r} of this webhook")
        delivery.redeliver(now())
        await uow.webhook_deliveries.save(delivery)
        await uow.commit()
    deps.wake()
    return delivery


def headers_of(delivery: Delivery, secret: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-SkyForge-Event": delivery.event_type,
        "X-SkyForge-Delivery": delivery.id,
        SIGNATURE_HEADER: sign(secret, timestamp, delivery.body.encode()),
    }


async def _send(delivery: Delivery, webhook: Webhook, sender: Sender, cipher: Cipher) -> Attempt:
    try:
        secret = cipher.open(webhook.sealed_secret, webhook.binding).decode()
    except Exception:  # a master key this instance lacks: say so, never what the key is
        return Attempt(now(), None, None, "the signing secret cannot be read here")
    started = time.monotonic()
    headers = headers_of(delivery, secret, int(time.time()))
    response = await sender.post(webhook.url, headers, delivery.body.encode())
    latency = round((time.monotonic() - started) * 1000)
    return Attempt(now(), response.status_code, latency, response.error)


async def attempt(delivery: Delivery, worker: str, sender: Sender, deps: Deps) -> Delivery:
    """One attempt of a delivery this worker holds; the outcome is stored with its backoff."""
    async with deps.uow() as uow:
        webhook = await uow.webhooks.get(delivery.project, delivery.webhook_id)
    if webhook is None:
        return delivery  # deleted meanwhile: its deliveries went with it
    if not webhook.active and delivery.event_type != PING:
        outcome = Attempt(now(), None, None, "the webhook is inactive")
    else:
        outcome = await _send(delivery, webhook, sender, deps.cipher)
    delivery.record(outcome, deps.retry)
    async with deps.uow() as uow:
        await uow.webhook_deliveries.finish(delivery, worker)
        await uow.commit()
    return delivery
