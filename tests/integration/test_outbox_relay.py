"""The transactional outbox and its relay, with the in-process feed (no NATS configured)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import update
from tests.conftest import TOKEN
from tests.integration.test_api_databases import REDIS, drop_server_objects
from tests.support import all_published, client_of, eventually, free_port

from skyforge.adapters.sql.outbox import SqlOutbox
from skyforge.adapters.sql.tables import outbox as table
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.kernel.stream import Envelope


@pytest.fixture
async def fresh(settings: Settings) -> AsyncIterator[Platform]:
    """A platform not started yet: consumers register first, as the port requires."""
    platform = Platform(settings)
    try:
        yield platform
    finally:
        await platform.stop()


async def test_changes_through_the_api_reach_a_consumer_group_in_order(fresh: Platform) -> None:
    seen: list[Envelope] = []
    live: list[Envelope] = []

    async def collect(envelope: Envelope) -> None:
        seen.append(envelope)

    async def watch(envelope: Envelope) -> None:
        live.append(envelope)

    fresh.feed.consume("audit-test", collect)
    fresh.feed.broadcast(watch)
    await fresh.start()
    async with client_of(fresh, TOKEN) as api:
        assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
        created = await api.post(
            "/api/v1/projects/shop/services",
            json={"name": "web", "source": {"git": "https://git.example/shop.git"}},
        )
        assert created.status_code == 201, created.text

    def shop_events() -> list[Envelope]:
        return [e for e in seen if e.subject == "shop"]

    await eventually(lambda: "service.created" in [e.type for e in shop_events()])
    types = [e.type for e in shop_events()]
    assert types.index("project.created") < types.index("service.created")
    service = next(e for e in shop_events() if e.type == "service.created")
    assert service.payload["service"] == "web"
    assert service.actor  # the admin made the change
    assert [e.id for e in seen] == sorted(e.id for e in seen)  # id order is publish order
    assert len({e.id for e in seen}) == len(seen)
    await eventually(lambda: {e.id for e in seen} <= {e.id for e in live})

    await eventually(lambda: all_published(fresh))
    outbox = SqlOutbox(fresh.engine)
    assert [env.id for env, _ in await outbox.all()] == [e.id for e in seen]


async def test_a_failing_group_is_retried_without_re_running_the_others(fresh: Platform) -> None:
    calls: dict[str, list[str]] = {"good": [], "flaky": []}
    failures = {"left": 2}

    async def good(envelope: Envelope) -> None:
        calls["good"].append(envelope.id)

    async def flaky(envelope: Envelope) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("not yet")
        calls["flaky"].append(envelope.id)

    fresh.feed.consume("good", good)
    fresh.feed.consume("flaky", flaky)
    fresh.stream.relay.poll = 0.05  # short backoff for the test
    await fresh.start()
    async with client_of(fresh, TOKEN) as api:
        assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201

    await eventually(lambda: len(calls["flaky"]) >= 1)
    await eventually(lambda: calls["flaky"] == calls["good"])
    assert len(set(calls["good"])) == len(calls["good"])  # the good group ran each event once
    await eventually(lambda: all_published(fresh))


async def test_a_deploy_a_database_and_a_secret_put_every_step_on_the_stream_without_values(
    settings: Settings, static_repo: Path
) -> None:
    name = f"ev{uuid.uuid4().hex[:10]}"
    platform = Platform(settings.model_copy(update={"redis_admin_url": SecretStr(REDIS)}))
    seen: list[Envelope] = []

    async def collect(envelope: Envelope) -> None:
        seen.append(envelope)

    platform.feed.consume("coverage", collect)
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            assert (await api.post("/api/v1/projects", json={"name": name})).status_code == 201
            body = {"name": "web", "source": {"git": str(static_repo)}}
            made = await api.post(f"/api/v1/projects/{name}/services", json=body)
            assert made.status_code == 201, made.text
            queued = await api.post(f"/api/v1/projects/{name}/services/web/deploys")
            assert queued.status_code == 202, queued.text
            db = await api.post(
                f"/api/v1/projects/{name}/databases", json={"name": "cache", "engine": "redis"}
            )
            assert db.status_code == 202, db.text
            put = await api.put(
                f"/api/v1/projects/{name}/secrets/API_KEY", json={"value": "hush-hush-4242"}
            )
            assert put.status_code in (200, 201), put.text

            def types() -> list[str]:
                return [e.type for e in seen if e.subject == name]

            wanted = ["deploy.succeeded", "database.ready", "secret.changed"]
            await eventually(lambda: all(t in types() for t in wanted), timeout=60)
            url = (await api.get(f"/api/v1/projects/{name}/databases/cache")).json()
        steps = [t for t in types() if t.startswith(("build.", "deploy."))]
        assert steps[:5] == [
            "deploy.queued",
            "deploy.started",
            "build.started",
            "build.succeeded",
            "deploy.status_changed",
        ]
        everything = json.dumps([e.to_json() for e in seen])
        assert "hush-hush-4242" not in everything
        secret = next(e for e in seen if e.type == "secret.changed")
        assert secret.payload["name"] == "API_KEY" and "value" not in secret.payload
        assert "password" not in everything.lower() and "redis://" not in everything
        assert url["status"] == "ready"
    finally:
        await platform.stop()
        await drop_server_objects(f"sf_{name}_")


async def test_without_a_kafka_broker_rows_stay_unpublished_and_consumers_run_once(
    settings: Settings,
) -> None:
    # No Kafka broker can run here (no JVM, no Redpanda): a port nobody listens on stands for a
    # broker that is down. The in-process consumers get each event once; the rows wait.
    platform = Platform(settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"}))
    platform.stream.relay.poll = 0.05
    platform.stream.relay.max_backoff = 0.2
    seen: list[str] = []

    async def collect(envelope: Envelope) -> None:
        seen.append(envelope.id)

    platform.feed.consume("once", collect)
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
        await eventually(lambda: len(seen) >= 1)
        passes = platform.stream.relay.passes
        await eventually(lambda: platform.stream.relay.passes >= passes + 3, timeout=30)
        rows = await SqlOutbox(platform.engine).all()
        assert rows and all(at is None for _, at in rows)  # kept until Kafka takes them
        assert sorted(seen) == sorted(env.id for env, _ in rows)  # each once, retries or not
        assert (await SqlOutbox(platform.engine).lag())[0] == len(rows)
    finally:
        await platform.stop()


async def test_published_rows_are_kept_a_week_then_pruned(fresh: Platform) -> None:
    await fresh.start()
    async with client_of(fresh, TOKEN) as api:
        for name in ("old", "new"):
            assert (await api.post("/api/v1/projects", json={"name": name})).status_code == 201
    await eventually(lambda: all_published(fresh))
    outbox = SqlOutbox(fresh.engine)
    old = [env.id for env, _ in await outbox.all() if env.subject == "old"]
    async with fresh.engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id.in_(old))
            .values(published_at=datetime.now(UTC) - timedelta(days=8))
        )
    assert await outbox.prune(timedelta(days=7)) == len(old)
    left = await outbox.all()
    assert left and all(env.subject != "old" for env, _ in left)
