"""The outbox relayed to the real NATS JetStream: subjects, ids, order, crashes, consumer groups.

Tests that kill NATS run their own nats-server on a free port; the others use the shared one at
127.0.0.1:4222 with a stream name and subject prefix of their own (deleted afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import nats
import pytest
from sqlalchemy import update
from tests.conftest import TOKEN
from tests.support import all_published, client_of, eventually, free_port

from skyforge.adapters.nats.feed import NatsFeed
from skyforge.adapters.sql.outbox import SqlOutbox
from skyforge.adapters.sql.tables import outbox as table
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.kernel.messages import Event
from skyforge.kernel.stream import Envelope

SHARED_NATS = "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class Ticked(Event):
    """A test event: no in-process handler, so only the stream sees it."""

    type: ClassVar[str] = "test.ticked"
    project: str
    n: int


class NatsServer:
    """A nats-server of the test's own, so it can be killed and restarted on the same store."""

    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.store = store
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)]
        self.proc = subprocess.Popen(
            ["/usr/sbin/nats-server", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # SIGKILL: no goodbye to anyone
            self.proc.wait()
            self.proc = None


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def names() -> tuple[str, str]:
    """A stream name and subject prefix of this test's own."""
    tag = uuid.uuid4().hex[:10]
    return f"T{tag}", f"t{tag}"


@pytest.fixture
async def shared_stream(names: tuple[str, str]) -> AsyncIterator[tuple[str, str]]:
    yield names
    nc = await nats.connect(SHARED_NATS)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(names[0])
    await nc.close()


async def stream_messages(url: str, stream: str, prefix: str) -> list[tuple[str, str, Envelope]]:
    """Every message stored in the stream: (subject, Nats-Msg-Id, envelope), in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(stream)).state.messages
        out: list[tuple[str, str, Envelope]] = []
        if total:
            sub = await js.pull_subscribe(f"{prefix}.>", stream=stream)
            while len(out) < total:
                for msg in await sub.fetch(min(256, total - len(out)), timeout=5):
                    await msg.ack()
                    envelope = Envelope.from_json(json.loads(msg.data))
                    out.append((msg.subject, (msg.headers or {})["Nats-Msg-Id"], envelope))
            await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def nats_settings(settings: Settings, url: str, names: tuple[str, str]) -> Settings:
    return settings.model_copy(
        update={"nats_url": url, "nats_stream": names[0], "nats_subject_prefix": names[1]}
    )


async def tick(platform: Platform, project: str, n: int) -> None:
    async with platform.uow() as uow:
        uow.emit(Ticked(project, n))
        await uow.commit()


def assert_once_and_in_order(stored: list[tuple[str, str, Envelope]], ids: list[str]) -> None:
    got = [e.id for _, _, e in stored]
    assert sorted(got) == sorted(ids), "every event exactly once"
    by_subject: dict[str, list[str]] = {}
    for _, _, e in stored:
        by_subject.setdefault(e.subject, []).append(e.id)
    for subject, order in by_subject.items():
        assert order == sorted(order), f"events of {subject} out of order"


async def test_api_changes_arrive_on_jetstream_with_subject_id_and_actor(
    settings: Settings, shared_stream: tuple[str, str]
) -> None:
    stream, prefix = shared_stream
    platform = Platform(nats_settings(settings, SHARED_NATS, shared_stream))
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
            created = await api.post(
                "/api/v1/projects/shop/services",
                json={"name": "web", "source": {"git": "https://git.example/shop.git"}},
            )
            assert created.status_code == 201, created.text
            await eventually(lambda: all_published(platform))
            ready = await api.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["nats"] == "ok"

        rows = [env for env, _ in await SqlOutbox(platform.engine).all()]
        stored = await stream_messages(SHARED_NATS, stream, prefix)
        assert [e.id for _, _, e in stored] == [r.id for r in rows]
        for subject, msg_id, envelope in stored:
            assert msg_id == envelope.id
            token = envelope.subject if envelope.subject != "-" else "_"
            assert subject == f"{prefix}.{token}.{envelope.type}"
        shop = [(s, e) for s, _, e in stored if e.subject == "shop"]
        assert [s for s, _ in shop] == [
            f"{prefix}.shop.project.created",
            f"{prefix}.shop.member.added",  # the creator became its owner
            f"{prefix}.shop.service.created",
        ]
        assert shop[2][1].payload == {"project": "shop", "service": "web"}
        assert shop[2][1].actor and shop[2][1].actor == shop[0][1].actor

        # The same envelope published again (a relay crashed before marking it): stored once.
        assert platform.stream.nats is not None
        assert await platform.stream.nats.send([shop[2][1], shop[2][1]]) == 2
        assert len(await stream_messages(SHARED_NATS, stream, prefix)) == len(stored)
    finally:
        await platform.stop()


async def test_killing_nats_mid_stream_loses_and_reorders_nothing(
    settings: Settings, own_nats: NatsServer, names: tuple[str, str]
) -> None:
    platform = Platform(nats_settings(settings, own_nats.url, names))
    platform.stream.relay.max_backoff = 0.5
    await platform.start()
    try:
        assert platform.stream.nats is not None
        assert await platform.stream.nats.wait_ready(10)
        for n in range(60):
            await tick(platform, f"p{n % 3}", n)
            if n == 20:
                own_nats.kill()
            await asyncio.sleep(0.01)
        unpublished = [env for env, at in await SqlOutbox(platform.engine).all() if at is None]
        assert unpublished, "events written while NATS was down wait in the outbox"
        own_nats.start()  # same port, same store
        await eventually(lambda: all_published(platform), timeout=30)
        ids = [env.id for env, _ in await SqlOutbox(platform.engine).all()]
        stored = await stream_messages(own_nats.url, *names)
        assert len(ids) == 60
        assert_once_and_in_order(stored, ids)
    finally:
        await platform.stop()


async def test_a_relay_killed_mid_publish_is_replaced_without_loss_or_duplicates(
    settings: Settings, shared_stream: tuple[str, str]
) -> None:
    config = nats_settings(settings, SHARED_NATS, shared_stream)
    first = Platform(config)
    await first.start()
    try:
        assert first.stream.nats is not None
        assert await first.stream.nats.wait_ready(10)
        first.stream.relay.batch = 5
        for n in range(150):
            await tick(first, f"p{n % 4}", n)

        async def some_published() -> bool:
            rows = await SqlOutbox(first.engine).all()
            return any(at for _, at in rows)

        await eventually(some_published)
        await first.stream.relay.stop()  # cancelled wherever it was: publishing or marking
        outbox = SqlOutbox(first.engine)
        rows = await outbox.all()
        # Also the worst case: the last marked rows were published but the mark got lost.
        marked = [env.id for env, at in rows if at is not None]
        async with first.engine.begin() as conn:
            await conn.execute(
                update(table).where(table.c.id.in_(marked[-7:])).values(published_at=None)
            )
    finally:
        await first.stop()

    second = Platform(config)
    await second.start()
    try:
        await eventually(lambda: all_published(second), timeout=30)
        ids = [env.id for env, _ in await SqlOutbox(second.engine).all()]
        stored = await stream_messages(SHARED_NATS, *shared_stream)
        assert len(ids) == 150
        assert_once_and_in_order(stored, ids)
    finally:
        await second.stop()


def envelope(n: int, subject: str = "shop") -> Envelope:
    return Envelope(
        id=f"{n:026d}",
        type="test.ticked",
        subject=subject,
        time=datetime.now(UTC),
        actor=None,
        payload={"n": n},
    )


async def test_a_group_on_two_replicas_handles_each_event_once_and_broadcast_reaches_both(
    shared_stream: tuple[str, str],
) -> None:
    stream, prefix = shared_stream
    handled: list[tuple[str, str]] = []
    seen: dict[str, list[str]] = {"a": [], "b": []}
    flaky = {"left": 2}
    feeds = []
    for replica in ("a", "b"):
        feed = NatsFeed(SHARED_NATS, stream=stream, prefix=prefix)

        async def handle(e: Envelope, replica: str = replica) -> None:
            if e.payload["n"] == 3 and flaky["left"]:
                flaky["left"] -= 1
                raise RuntimeError("try again")  # redelivered, the rest waits behind it
            handled.append((replica, e.id))

        async def watch(e: Envelope, replica: str = replica) -> None:
            seen[replica].append(e.id)

        feed.consume("webhooks", handle)
        feed.broadcast(watch)
        await feed.start()
        assert await feed.wait_ready(10)
        feeds.append(feed)
    try:
        sent = [envelope(n, f"p{n % 2}") for n in range(20)]
        assert await feeds[0].send(sent) == 20
        ids = [e.id for e in sent]

        async def done() -> bool:
            return len(handled) >= 20 and all(len(v) >= 20 for v in seen.values())

        await eventually(done, timeout=30)
        await asyncio.sleep(0.3)  # nothing more should come
        assert sorted(i for _, i in handled) == ids  # once per group, across both replicas
        assert [i for _, i in handled] == ids  # one at a time: in stream order
        assert seen["a"] == ids and seen["b"] == ids
        # A second group gets its own copy; a group created now starts with new events.
        late = NatsFeed(SHARED_NATS, stream=stream, prefix=prefix)
        got: list[str] = []

        async def collect(e: Envelope) -> None:
            got.append(e.id)

        late.consume("cache", collect)
        await late.start()
        assert await late.wait_ready(10)
        feeds.append(late)
        assert await feeds[1].send([envelope(99)]) == 1

        async def late_got() -> bool:
            return got == [envelope(99).id]

        await eventually(late_got)
    finally:
        for feed in feeds:
            await feed.stop()


async def test_a_duplicate_publish_is_stored_once(shared_stream: tuple[str, str]) -> None:
    stream, prefix = shared_stream
    feed = NatsFeed(SHARED_NATS, stream=stream, prefix=prefix)
    await feed.start()
    assert await feed.wait_ready(10)
    try:
        one = envelope(1)
        assert await feed.send([one, envelope(2), one, replace(one)]) == 4
        stored = await stream_messages(SHARED_NATS, stream, prefix)
        assert [e.id for _, _, e in stored] == [one.id, envelope(2).id]
        assert [s for s, _, _ in stored] == [f"{prefix}.shop.test.ticked"] * 2
    finally:
        await feed.stop()


async def test_send_accepts_nothing_while_nats_is_unreachable() -> None:
    feed = NatsFeed(f"nats://127.0.0.1:{free_port()}", stream="TNONE", prefix="tnone")
    await feed.start()
    try:
        assert not await feed.wait_ready(0.5)
        assert await feed.send([envelope(1)]) == 0
    finally:
        await feed.stop()


async def test_readiness_says_so_when_nats_is_away_and_writes_still_succeed(
    settings: Settings, names: tuple[str, str]
) -> None:
    platform = Platform(nats_settings(settings, f"nats://127.0.0.1:{free_port()}", names))
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            ready = await api.get("/readyz")
            assert ready.status_code == 503
            assert ready.json() == {
                "status": "unavailable",
                "database": "ok",
                "nats": "unavailable",
            }
            # The database is the source of truth: the change is made, its events wait.
            assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
        rows = await SqlOutbox(platform.engine).all()
        assert rows and all(at is None for _, at in rows)
    finally:
        await platform.stop()
