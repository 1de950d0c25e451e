"""The Kafka sink against a broker that speaks the Kafka protocol (a fake one: no real Kafka or
Redpanda runs here), alone and behind the outbox relay of a running SkyForge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.conftest import TOKEN
from tests.integration.kafka_broker import FakeKafkaBroker, Record
from tests.support import all_published, client_of, eventually

from skyforge.adapters.kafka import KafkaSink
from skyforge.adapters.sql.outbox import SqlOutbox
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.kernel.stream import Envelope

TOPIC = "skyforge.events"


@pytest.fixture
async def broker() -> AsyncIterator[FakeKafkaBroker]:
    broker = FakeKafkaBroker()
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def envelope(n: int, project: str) -> Envelope:
    at = datetime(2026, 1, 2, 3, 4, n, tzinfo=UTC)
    return Envelope(f"01jtest{n:019d}", "service.created", project, at, "alice@example.com", {})


def ids_on(records: list[Record]) -> list[str]:
    return [(dict(r.headers)["id"] or b"").decode() for r in records]


async def test_events_arrive_in_order_keyed_by_project_with_the_envelope_and_its_id_and_type(
    broker: FakeKafkaBroker,
) -> None:
    broker.partitions = 3  # projects spread over partitions; each keeps its order in one
    sent = [envelope(n, ("shop", "blog")[n % 2]) for n in range(10)]
    sink = KafkaSink(broker.bootstrap, TOPIC)
    try:
        assert await sink.send(sent) == len(sent)
    finally:
        await sink.stop()

    for project in ("shop", "blog"):
        mine = [e for e in sent if e.subject == project]
        records = [r for r in broker.on(TOPIC) if r.key == project.encode()]
        assert len({r.partition for r in records}) == 1  # one project, one partition
        assert [r.offset for r in records] == sorted(r.offset for r in records)
        assert [Envelope.from_json(json.loads(r.value or b"")) for r in records] == mine
        assert [dict(r.headers) for r in records] == [
            {"id": e.id.encode(), "type": e.type.encode()} for e in mine
        ]
    assert len(broker.on(TOPIC)) == len(sent)


async def test_an_acknowledgement_lost_on_the_way_does_not_put_an_event_on_the_topic_twice(
    broker: FakeKafkaBroker,
) -> None:
    broker.lose_acks = 1  # the broker stores the first batch, then the connection drops
    sent = [envelope(n, "shop") for n in range(3)]
    sink = KafkaSink(broker.bootstrap, TOPIC)
    try:
        assert await sink.send(sent) == len(sent)  # the producer sent it again, same sequence
    finally:
        await sink.stop()
    assert broker.duplicates >= 1  # the retry did reach the broker
    assert ids_on(broker.on(TOPIC)) == [e.id for e in sent]


def kafka_platform(settings: Settings, broker: FakeKafkaBroker) -> Platform:
    platform = Platform(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
    platform.stream.relay.poll = 0.05
    platform.stream.relay.max_backoff = 0.2
    assert platform.stream.kafka is not None
    platform.stream.kafka.timeout_ms = 1_000  # a broker that is away is given up on quickly
    return platform


async def add_service(api: httpx.AsyncClient, name: str) -> None:
    made = await api.post(
        "/api/v1/projects/shop/services",
        json={"name": name, "source": {"git": "https://git.example/shop.git"}},
    )
    assert made.status_code == 201, made.text


async def test_changes_through_the_api_land_on_the_topic_in_outbox_order_and_are_marked_published(
    settings: Settings, broker: FakeKafkaBroker
) -> None:
    platform = kafka_platform(settings, broker)
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
            await add_service(api, "web")
        outbox = SqlOutbox(platform.engine)
        await eventually(lambda: all_published(platform))
        rows = [env for env, _ in await outbox.all()]
        assert ids_on(broker.on(TOPIC)) == [env.id for env in rows]
        shop = [r for r in broker.on(TOPIC) if r.key == b"shop"]
        types = [dict(r.headers)["type"] for r in shop]
        assert types.index(b"project.created") < types.index(b"service.created")
    finally:
        await platform.stop()


async def test_while_the_broker_is_down_rows_wait_and_consumers_go_on_then_each_event_lands_once(
    settings: Settings, broker: FakeKafkaBroker
) -> None:
    platform = kafka_platform(settings, broker)
    seen: list[str] = []

    async def collect(envelope: Envelope) -> None:
        seen.append(envelope.id)

    platform.feed.consume("in-process", collect)
    await platform.start()
    outbox = SqlOutbox(platform.engine)
    try:
        async with client_of(platform, TOKEN) as api:
            assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
            await eventually(lambda: all_published(platform))
            before = len(await outbox.all())

            await broker.stop()
            for name in ("web", "worker", "cron"):
                await add_service(api, name)
            waiting = len(await outbox.all()) - before
            # The in-process consumers are not held up by Kafka being away...
            await eventually(lambda: len(seen) == before + waiting)
            passes = platform.stream.relay.passes
            await eventually(lambda: platform.stream.relay.passes >= passes + 2)
            # ...but the rows are kept until Kafka has them too.
            assert (await outbox.lag())[0] == waiting

            await broker.start()
            await eventually(lambda: all_published(platform), timeout=30)
        rows = [env for env, _ in await outbox.all()]
        assert ids_on(broker.on(TOPIC)) == [env.id for env in rows]  # none lost, none twice
        assert sorted(seen) == sorted(env.id for env in rows)  # consumers ran each once
        services = [json.loads(r.value or b"")["data"].get("service") for r in broker.on(TOPIC)]
        assert [s for s in services if s] == ["web", "worker", "cron"]
    finally:
        await platform.stop()


async def test_skyforge_stops_at_once_while_the_broker_is_down_and_sends_the_rest_when_restarted(
    settings: Settings, broker: FakeKafkaBroker
) -> None:
    first = kafka_platform(settings, broker)
    await first.start()
    try:
        async with client_of(first, TOKEN) as api:
            assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
            await eventually(lambda: all_published(first))
            await broker.stop()
            await add_service(api, "web")
        passes = first.stream.relay.passes
        await eventually(lambda: first.stream.relay.passes >= passes + 2)
    finally:
        async with asyncio.timeout(30):  # not held until Kafka is back
            await first.stop()

    await broker.start()
    second = kafka_platform(settings, broker)
    await second.start()
    try:
        outbox = SqlOutbox(second.engine)
        await eventually(lambda: all_published(second), timeout=30)
        rows = [env for env, _ in await outbox.all()]
        assert ids_on(broker.on(TOPIC)) == [env.id for env in rows]
        assert rows[-1].type == "service.created"
    finally:
        await second.stop()
