"""The Kafka-protocol sink (Redpanda, Kafka): the relay also writes every envelope to a topic.

Key = the envelope's subject (the project), so one project's events land in one partition, in
order; value = the envelope as JSON; headers carry the id and type so consumers can deduplicate
and filter without parsing. The producer is idempotent with acks=all; a broker that does not
answer in time makes `send` accept nothing, so the relay keeps the rows and retries them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

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
        # Records handed to the producer and not yet counted as sent, by envelope id.
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

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
        first ones were acknowledged within `timeout_ms`.

        An idempotent producer never gives a record up: with the broker away it retries until
        the broker is back, so waiting for it would hold the relay (and every other sink) for
        as long. What is not acknowledged in time stays with the producer; asked again for the
        same envelope, the sink waits for that record rather than sending it a second time.
        """
        done = 0
        try:
            async with asyncio.timeout(self.timeout_ms / 1000):
                producer = await self._started()
                try:
                    for envelope in envelopes:
                        if envelope.id not in self._in_flight:
                            key, value, headers = record_of(envelope)
                            self._in_flight[envelope.id] = await producer.send(
                                self.topic, value=value, key=key, headers=headers
                            )
                except Exception as exc:
                    log.warning("queueing an event for Kafka failed: %r", exc)
                for envelope in envelopes:
                    future = self._in_flight.get(envelope.id)
                    if future is None:
                        break  # not queued
                    await asyncio.wait([future])  # unlike `await`, a timeout leaves it running
                    failure = "cancelled" if future.cancelled() else future.exception()
                    if failure is not None:
                        del self._in_flight[envelope.id]  # failed for good: sent again
                        log.warning("Kafka did not take event %s: %r", envelope.id, failure)
                        break
                    done += 1
        except Exception as exc:
            log.warning("the Kafka broker at %s did not take events: %r", self.bootstrap, exc)
        for envelope in envelopes[:done]:
            del self._in_flight[envelope.id]
        return done

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        records, self._in_flight = list(self._in_flight.values()), {}
        if producer is None:
            return
        stopping = asyncio.ensure_future(producer.stop())
        if not (await asyncio.wait([stopping], timeout=self.timeout_ms / 1000))[0]:
            # Stopping flushes, and an idempotent producer retries for as long as the broker is
            # away. Give its records up (they were not marked published: the relay sends them
            # again) the way its sender does when it dies; aiokafka has no public call for it.
            producer._message_accumulator.fail_all(KafkaConnectionError("the sink stopped"))
        with contextlib.suppress(Exception):
            await stopping
        for record in records:
            if record.done() and not record.cancelled():
                record.exception()  # given up: nobody waits for the outcome now
