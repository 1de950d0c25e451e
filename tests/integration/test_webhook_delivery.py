"""Webhooks delivered for real: committed events reach a receiver on this machine, signed,
retried with backoff, logged; redirects and addresses the guard refuses never get there.

Runs on SQLite and on PostgreSQL (the database_url fixture does both).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from tests.conftest import TOKEN
from tests.integration.webhook_receiver import Receiver, receiver, verify
from tests.support import client_of

from skyforge.adapters.netguard import NetworkPolicy
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.kernel.stream import Envelope
from skyforge.webhooks.dispatch import DeliveryWorker

P = "/api/v1/projects/shop"
HOOKS = f"{P}/webhooks"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on 127.0.0.1 only: the operator allows that one address."""
    return settings.model_copy(
        update={
            "webhook_allowed_networks": ["127.0.0.1/32"],
            "webhook_retry_base_seconds": 0.05,
            "webhook_timeout": 3.0,
        }
    )


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


async def subscribe(api: httpx.AsyncClient, r: Receiver, events: list[str]) -> dict[str, Any]:
    if (await api.get(P)).status_code == 404:
        assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    created = await api.post(HOOKS, json={"url": r.url, "events": events})
    assert created.status_code == 201, created.text
    r.secret = created.json()["secret"]
    hook: dict[str, Any] = created.json()
    return hook


async def create_service(api: httpx.AsyncClient, repo: Path, name: str = "web") -> None:
    made = await api.post(f"{P}/services", json={"name": name, "source": {"git": str(repo)}})
    assert made.status_code == 201, made.text


async def deliveries_of(
    api: httpx.AsyncClient, webhook_id: str, settled: bool = True, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """The delivery log, once nothing in it is pending (when `settled`)."""
    for _ in range(int(timeout / 0.05)):
        items: list[dict[str, Any]] = (await api.get(f"{HOOKS}/{webhook_id}/deliveries")).json()[
            "items"
        ]
        if not settled or (items and all(d["status"] != "pending" for d in items)):
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries still pending: {items}")


async def test_an_event_reaches_the_receiver_signed_with_the_secret_from_the_201(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    webhook = await subscribe(api, hook, ["service.created"])
    await create_service(api, static_repo)
    [got] = await hook.wait_for(1)
    assert got.valid and hook.refused == 0
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "SkyForge-Webhooks/1"
    assert got.headers["x-skyforge-event"] == "service.created"
    doc = got.json
    assert doc["type"] == "service.created" and doc["subject"] == "shop"
    assert doc["data"]["service"] == "web" and doc["webhook_id"] == webhook["id"]
    assert doc["actor"] == "admin@skyforge.local"
    [logged] = await deliveries_of(api, webhook["id"])
    assert got.headers["x-skyforge-delivery"] == logged["id"]
    assert logged["status"] == "succeeded" and logged["attempts"] == 1
    assert logged["response_code"] == 200 and logged["latency_ms"] >= 0
    assert logged["event_id"] == doc["id"]
    # Another secret does not verify it; a stale timestamp is refused by the receiver.
    assert not verify("whsec_other", got.headers["x-skyforge-signature"], got.body)
    later = datetime.now(UTC).timestamp() + 600
    assert not verify(hook.secret, got.headers["x-skyforge-signature"], got.body, later)


async def test_a_star_subscription_gets_every_event_a_specific_one_only_its_types(
    api: httpx.AsyncClient, static_repo: Path
) -> None:
    with receiver() as everything, receiver() as deploys_only, receiver() as services:
        await subscribe(api, everything, ["*"])
        await subscribe(api, deploys_only, ["deploy.*"])
        await subscribe(api, services, ["service.created", "service.deleted"])
        await create_service(api, static_repo)
        assert (await api.delete(f"{P}/services/web")).status_code == 204
        await services.wait_for(2)
        await everything.wait_for(4)  # its own webhook.created, the two later ones, and more
        await asyncio.sleep(0.5)
        types = [r.json["type"] for r in everything.got]
        assert {"webhook.created", "service.created", "service.deleted"} <= set(types)
        # No order is promised between deliveries (retries would break it anyway).
        assert sorted(r.json["type"] for r in services.got) == [
            "service.created",
            "service.deleted",
        ]
        assert deploys_only.got == []
        assert all(r.valid for r in everything.got + services.got)


async def test_a_failing_receiver_is_retried_with_backoff_and_the_log_shows_each_attempt(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    hook.answers = [500, 503]
    webhook = await subscribe(api, hook, ["service.created"])
    await create_service(api, static_repo)
    got = await hook.wait_for(3)
    assert len({r.headers["x-skyforge-delivery"] for r in got}) == 1  # one delivery, 3 tries
    assert len({r.body for r in got}) == 1  # the same bytes each time
    assert all(r.valid for r in got)
    [logged] = await deliveries_of(api, webhook["id"])
    assert (logged["status"], logged["attempts"], logged["response_code"]) == ("succeeded", 3, 200)
    assert [a["status_code"] for a in logged["log"]] == [500, 503, 200]
    assert all(a["latency_ms"] is not None for a in logged["log"])
    times = [datetime.fromisoformat(a["at"]) for a in logged["log"]]
    assert times == sorted(times)


async def test_a_receiver_that_never_succeeds_is_given_up_on(
    api: httpx.AsyncClient, platform: Platform, hook: Receiver, static_repo: Path
) -> None:
    platform.webhooks.deps.retry = platform.webhooks.deps.retry.__class__(
        base_seconds=0.02, max_attempts=3
    )
    hook.answers = [500] * 10
    webhook = await subscribe(api, hook, ["service.created"])
    await create_service(api, static_repo)
    [logged] = await deliveries_of(api, webhook["id"])
    assert (logged["status"], logged["attempts"]) == ("failed", 3)
    assert logged["next_attempt_at"] is None
    # Redelivered by hand: a fresh budget, the same body, a new signature.
    hook.answers = []
    again = await api.post(f"{HOOKS}/{webhook['id']}/deliveries/{logged['id']}/redeliver")
    assert again.status_code == 202, again.text
    [logged] = await deliveries_of(api, webhook["id"])
    assert logged["status"] == "succeeded"
    assert [a["status_code"] for a in logged["log"]] == [500, 500, 500, 200]
    detail = (await api.get(f"{HOOKS}/{webhook['id']}/deliveries/{logged['id']}")).json()
    assert json.loads(detail["body"])["type"] == "service.created"


async def test_a_redirect_to_a_refused_address_is_not_followed(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    with receiver() as inside:  # on 127.0.0.1 too: the redirect names it as 127.0.0.2
        hook.redirect_to = inside.url.replace("127.0.0.1", "127.0.0.2")
        webhook = await subscribe(api, hook, ["service.created"])
        platform_retry_off = {"active": True}
        assert (await api.patch(f"{HOOKS}/{webhook['id']}", json=platform_retry_off)).is_success
        await create_service(api, static_repo)
        await hook.wait_for(1)
        items = await deliveries_of(api, webhook["id"], settled=False)
        for _ in range(100):
            items = await deliveries_of(api, webhook["id"], settled=False)
            if items and items[0]["attempts"] >= 1:
                break
            await asyncio.sleep(0.05)
        assert items[0]["response_code"] is None
        assert "refused" in items[0]["error"] and "loopback" in items[0]["error"]
        assert inside.got == []


async def test_a_redirect_keeping_the_body_to_an_allowed_address_is_followed(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    with receiver("/moved") as moved:
        hook.redirect_to = moved.url
        webhook = await subscribe(api, hook, ["service.created"])
        moved.secret = hook.secret
        await create_service(api, static_repo)
        [got] = await moved.wait_for(1)
        assert got.valid and got.json["type"] == "service.created"
        [logged] = await deliveries_of(api, webhook["id"])
        assert logged["status"] == "succeeded"


async def test_the_guard_checks_again_at_delivery_time(
    api: httpx.AsyncClient, platform: Platform, hook: Receiver, static_repo: Path
) -> None:
    """A target allowed when saved but not any more (the name now resolves elsewhere, or the
    operator narrowed the allowance) is refused when sending, before any connection."""
    webhook = await subscribe(api, hook, ["service.created"])
    platform.webhooks.use(NetworkPolicy())
    await create_service(api, static_repo)
    for _ in range(200):
        items = await deliveries_of(api, webhook["id"], settled=False)
        if items and items[0]["attempts"] >= 1:
            break
        await asyncio.sleep(0.05)
    assert "refused" in items[0]["error"] and "loopback" in items[0]["error"]
    assert hook.got == []


async def test_the_same_event_seen_twice_is_delivered_once(
    api: httpx.AsyncClient, platform: Platform, hook: Receiver
) -> None:
    """The feed delivers at least once: the consumer must be idempotent."""
    webhook = await subscribe(api, hook, ["deploy.succeeded"])
    event = Envelope("01evt", "deploy.succeeded", "shop", datetime.now(UTC), None, {"x": 1})
    await platform.webhooks.on_envelope(event)
    await platform.webhooks.on_envelope(event)
    await hook.wait_for(1)
    await asyncio.sleep(0.3)
    assert len(hook.got) == 1
    assert len(await deliveries_of(api, webhook["id"])) == 1
    other = Envelope("01evu", "deploy.succeeded", "elsewhere", datetime.now(UTC), None, {})
    await platform.webhooks.on_envelope(other)  # another project's event: not ours
    assert len(await deliveries_of(api, webhook["id"])) == 1


async def test_a_ping_tests_the_receiver_and_an_inactive_webhook_gets_nothing(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    webhook = await subscribe(api, hook, ["service.created"])
    pinged = await api.post(f"{HOOKS}/{webhook['id']}/ping")
    assert pinged.status_code == 202 and pinged.json()["event_type"] == "webhook.ping"
    [got] = await hook.wait_for(1)
    assert got.valid and got.json["type"] == "webhook.ping"
    off = await api.patch(f"{HOOKS}/{webhook['id']}", json={"active": False})
    assert off.json()["active"] is False
    await create_service(api, static_repo)
    await asyncio.sleep(0.5)
    assert len(hook.got) == 1


async def test_a_rotated_secret_signs_the_next_deliveries(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    webhook = await subscribe(api, hook, ["service.created"])
    rotated = await api.post(f"{HOOKS}/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200
    old, hook.secret = hook.secret, rotated.json()["secret"]
    assert old != hook.secret
    await create_service(api, static_repo)
    [got] = await hook.wait_for(1)
    assert got.valid
    assert not verify(old, got.headers["x-skyforge-signature"], got.body)


async def test_signing_secrets_survive_a_master_key_rotation(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    """The secrets are sealed under the master keys: a rotation re-seals them before the old
    key is retired, so deliveries are still signed with the same secret."""
    await subscribe(api, hook, ["service.created"])
    first = await api.post("/api/v1/secrets/rotate-key")
    assert first.status_code == 200, first.text
    assert (await api.post("/api/v1/secrets/rotate-key")).status_code == 200
    await create_service(api, static_repo)
    [got] = await hook.wait_for(1)
    assert got.valid


async def test_events_come_through_nats_jetstream_when_configured(
    settings: Settings, hook: Receiver, static_repo: Path
) -> None:
    """With NATS, the webhooks are a durable consumer group of the JetStream stream."""
    name = uuid.uuid4().hex[:10]
    stream, prefix = f"SFWH_{name}", f"sfwh_{name}"
    nats_url = "nats://127.0.0.1:4222"
    platform = Platform(
        settings.model_copy(
            update={"nats_url": nats_url, "nats_stream": stream, "nats_subject_prefix": prefix}
        )
    )
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            webhook = await subscribe(api, hook, ["service.created"])
            await create_service(api, static_repo)
            [got] = await hook.wait_for(1, timeout=30)
            assert got.valid and got.json["type"] == "service.created"
            [logged] = await deliveries_of(api, webhook["id"])
            assert logged["status"] == "succeeded"
    finally:
        await platform.stop()
        nc = await nats.connect(nats_url)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(stream)
        await nc.close()


async def test_two_workers_on_one_database_send_each_delivery_once(
    api: httpx.AsyncClient, platform: Platform, hook: Receiver
) -> None:
    """Replicas share the queue: a claim holds a delivery, so the normal case sends it once."""
    webhook = await subscribe(api, hook, ["service.created"])
    other = DeliveryWorker(platform.webhooks.deps, platform.webhooks.sender, poll=0.01)
    platform.webhooks.worker.concurrency = other.concurrency = 3
    other.start()
    try:
        for _ in range(12):
            assert (await api.post(f"{HOOKS}/{webhook['id']}/ping")).status_code == 202
        got = await hook.wait_for(12)
        await asyncio.sleep(0.5)
    finally:
        await other.stop()
    ids = [r.headers["x-skyforge-delivery"] for r in got]
    assert len(ids) == len(set(ids)) == 12
    logged = await deliveries_of(api, webhook["id"])
    assert all(d["attempts"] == 1 and d["status"] == "succeeded" for d in logged)


async def test_a_successful_deploy_is_announced(
    api: httpx.AsyncClient, hook: Receiver, static_repo: Path
) -> None:
    webhook = await subscribe(api, hook, ["deploy.succeeded", "deploy.failed"])
    await create_service(api, static_repo)
    started = await api.post(f"{P}/services/web/deploys")
    assert started.status_code == 202, started.text
    [got] = await hook.wait_for(1, timeout=60)
    assert got.valid and got.json["type"] == "deploy.succeeded"
    assert got.json["subject"] == "shop" and got.json["data"]["service"] == "web"
    [logged] = await deliveries_of(api, webhook["id"])
    assert logged["event_type"] == "deploy.succeeded" and logged["status"] == "succeeded"
