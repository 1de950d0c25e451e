"""Wiring of the event stream: the feed (NATS JetStream or in-process), sinks and the relay.

Without `SKYFORGE_NATS_URL` the relay hands envelopes to the in-process feed; with it, to
JetStream, and consumers read from there. `SKYFORGE_KAFKA_BOOTSTRAP` adds a Kafka sink: a row
is marked published only once every sink took it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.adapters.kafka import KafkaSink
from skyforge.adapters.nats.feed import NatsFeed
from skyforge.adapters.sql.outbox import SqlOutbox
from skyforge.config import Settings
from skyforge.kernel.stream import EventFeed
from skyforge.workers.local_feed import InProcessFeed
from skyforge.workers.relay import OutboxRelay, Sink


class EventsWiring:
    """`feed` is what consumers register with (before start); `relay` moves the outbox to it."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.outbox = SqlOutbox(engine)
        self.nats: NatsFeed | None = None
        self.kafka: KafkaSink | None = None
        sinks: list[Sink] = []
        if settings.nats_url:
            self.nats = NatsFeed(
                settings.nats_url,
                stream=settings.nats_stream,
                prefix=settings.nats_subject_prefix,
            )
            sinks.append(self.nats)
            self.feed: EventFeed = self.nats
        else:
            local = InProcessFeed()
            sinks.append(local)
            self.feed = local
        if settings.kafka_bootstrap:
            self.kafka = KafkaSink(settings.kafka_bootstrap, settings.kafka_topic)
            sinks.append(self.kafka)
        self.relay = OutboxRelay(self.outbox, sinks)
        if self.nats is not None:
            self.nats.on_ready = self.relay.resume

    def wake(self) -> None:
        self.relay.wake()

    async def start(self) -> None:
        if self.nats is not None:
            await self.nats.start()
        self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        if self.nats is not None:
            await self.nats.stop()
        if self.kafka is not None:
            await self.kafka.stop()

    async def ready(self) -> dict[str, str]:
        """What readiness reports about the stream ({} when it is in-process)."""
        return {} if self.nats is None else {"nats": await self.nats.check()}
