"""Events benchmark: outbox -> relay -> stream, on PostgreSQL with NATS JetStream (and in-process).

Creates projects through the message bus (each a real transaction writing its events to the
outbox) and prints, for the in-process feed and for the real NATS at 127.0.0.1:4222 (its own
stream and subject prefix, deleted afterwards):
- latency: from a change being asked for (its transaction included) to its event reaching a
  broadcast handler (p50, p95), one change at a time;
- throughput: events per second relayed from a backlog written while the relay was stopped.

Run: .venv/bin/python bench/events.py [--changes 200] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import nats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from skyforge.bootstrap import Platform  # noqa: E402
from skyforge.config import Settings  # noqa: E402
from skyforge.kernel.stream import Envelope  # noqa: E402
from skyforge.projects.commands import CreateProject  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
NATS = "nats://127.0.0.1:4222"


async def run(label: str, settings: Settings, changes: int, backlog: int) -> None:
    platform = Platform(settings)
    seen: dict[str, float] = {}
    arrived = asyncio.Event()

    async def on_event(envelope: Envelope) -> None:
        if envelope.type == "project.created":
            seen[envelope.payload["project"]] = time.perf_counter()
            arrived.set()

    platform.feed.broadcast(on_event)
    await platform.start(background=False)
    await platform.stream.start()
    try:
        latencies = []
        for n in range(changes):
            name = f"lat-{n}"
            arrived.clear()
            started = time.perf_counter()
            await platform.bus.handle(CreateProject(name))
            while name not in seen:
                await asyncio.wait_for(arrived.wait(), 10)
                arrived.clear()
            latencies.append(seen[name] - started)
        await platform.stream.relay.stop()  # a backlog builds up in the outbox
        for n in range(backlog):
            await platform.bus.handle(CreateProject(f"bulk-{n}"))
        unpublished, _ = await platform.stream.outbox.lag()
        started = time.perf_counter()
        platform.stream.relay.start()
        while f"bulk-{backlog - 1}" not in seen:
            await asyncio.sleep(0.01)
        relayed = time.perf_counter() - started
    finally:
        await platform.stream.stop()
        await platform.stop()
    ms = sorted(x * 1000 for x in latencies)
    print(
        f"{label:<11} change->consumer p50 {statistics.median(ms):6.1f} ms  "
        f"p95 {ms[int(len(ms) * 0.95) - 1]:6.1f} ms   "
        f"backlog of {unpublished} events relayed in {relayed:5.2f} s "
        f"({unpublished / relayed:,.0f} events/s)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=2000)
    args = parser.parse_args()
    for label in ("in-process", "nats"):
        name = f"skyforge_bench_{uuid.uuid4().hex[:8]}"
        stream = f"BENCH_{uuid.uuid4().hex[:8].upper()}"
        admin = await asyncpg.connect(POSTGRES)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp) / "data",
                database_url=POSTGRES.rsplit("/", 1)[0] + "/" + name,
                runtime="null",
                edge="null",
                admin_token="bench-admin-token-" + uuid.uuid4().hex,
            )
            if label == "nats":
                settings = settings.model_copy(
                    update={
                        "nats_url": NATS,
                        "nats_stream": stream,
                        "nats_subject_prefix": stream.lower(),
                    }
                )
            try:
                await run(label, settings, args.changes, args.backlog)
            finally:
                admin = await asyncpg.connect(POSTGRES)
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
                if label == "nats":
                    client = await nats.connect(NATS)
                    try:
                        await client.jetstream().delete_stream(stream)
                    finally:
                        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
