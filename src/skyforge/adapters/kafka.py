"""The Kafka-protocol sink (Redpanda, Kafka): the relay also writes every envelope to a topic.

Key = the envelope's subject (the project), so one project's events land in one partition, in
order; value = the envelope as JSON; headers carry the id and type so consumers can deduplicate
and filter without parsing. The producer is idempotent with acks=all; a broker that does not
answer makes `send` accept nothing, so the relay keeps the rows and retries them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from skyforge.kernel.stream import Envelope

log = logging.getLogger(__name__)


def record_of(envelope: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of an envelope's Kafka record."""
    key = envelope.subject.encode()
    value = json.dumps(envelope.to_json(), separators=(",", ":")).encode()
    headers = [("id", envelope.id.encode()), ("type", envelope.type.encode())]
    return key, value, headers


class KafkaSink:
    def __init__(
        self, bootstrap: str, topic: str = "skyforge.events", *, timeout_ms: int = 10_000
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_ms = timeout_ms
        self._producer: AIOKafkaProducer | None = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=self.timeout_ms,
                client_id="skyforge-relay",
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def send(self, envelopes: Sequence[Envelope]) -> int:
        """Send in order (pipelined; idempotence keeps a partition's order); how many of the
        first ones were acknowledged."""
        try:
            producer = await self._started()
        except Exception as exc:
            log.warning("the Kafka broker at %s does not answer: %r", self.bootstrap, exc)
            return 0
        pending = []
        try:
            for envelope in envelopes:
                key, value, headers = record_of(envelope)
                pending.append(
                    await producer.send(self.topic, value=value, key=key, headers=headers)
                )
        except Exception as exc:
            log.warning("queueing an event for Kafka failed: %r", exc)
        done = 0
        for future in pending:
            try:
                await future
            except Exception as exc:
                log.warning("Kafka did not take event %s: %r", envelopes[done].id, exc)
                break
            done += 1
        # The ones after a failure are sent again with it; collect their outcome all the same.
        await asyncio.gather(*pending[done:], return_exceptions=True)
        return done

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
