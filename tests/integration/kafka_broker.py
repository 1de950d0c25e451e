"""A fake Kafka broker for tests: one node on 127.0.0.1 that an idempotent aiokafka producer can
write to, keeping what it accepted for assertions.

It reads and writes the wire protocol with aiokafka's own request/response structs and decodes
record batches with `aiokafka.record`, so it is held to the definitions the real client uses. It
is node 0 and leads every partition of every topic a metadata request names (created then, with
`partitions` partitions). Like a broker with idempotence it acknowledges a batch re-sent with a
producer id and sequence it already stored, without storing it twice, and refuses a sequence
that skips ahead. It can stop (dropping every connection) and start again on the same port,
keeping its records and producer state, as a restarted broker keeps its log.

It does not do: consumers (Fetch, groups, offsets), transactions, ACLs, SASL or TLS,
replication, retention, flexible (tagged-field) versions, or any API version but the one listed
per request below; a request it does not know closes the connection, as a broker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from aiokafka.errors import NoError, OutOfOrderSequenceNumber, UnknownTopicOrPartitionError
from aiokafka.protocol.admin import ApiVersionRequest_v0
from aiokafka.protocol.api import RequestHeader_v1, RequestStruct, ResponseHeader_v0
from aiokafka.protocol.metadata import MetadataRequest_v5
from aiokafka.protocol.produce import ProduceRequest_v7
from aiokafka.protocol.transaction import InitProducerIdRequest_v0
from aiokafka.record.memory_records import MemoryRecords

# The one version of each API this broker speaks (aiokafka picks the highest one offered).
REQUESTS: dict[int, type[RequestStruct]] = {
    r.API_KEY: r
    for r in (ApiVersionRequest_v0, MetadataRequest_v5, InitProducerIdRequest_v0, ProduceRequest_v7)
}
NODE_ID = 0


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


@dataclass
class FakeKafkaBroker:
    partitions: int = 1
    host: str = "127.0.0.1"
    port: int = 0  # a free one, kept across restarts
    records: list[Record] = field(default_factory=list)  # in the order they were stored
    topics: dict[str, int] = field(default_factory=dict)  # name -> partition count
    lose_acks: int = 0  # store the next n produce requests, then drop the connection unanswered
    duplicates: int = 0  # batches acknowledged but not stored again
    # (topic, partition, producer id) -> {base sequence: base offset} of the batches stored
    _batches: dict[tuple[str, int, int], dict[int, int]] = field(default_factory=dict)
    _next_sequence: dict[tuple[str, int, int], int] = field(default_factory=dict)
    _log_end: dict[tuple[str, int], int] = field(default_factory=dict)
    _producer_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _server: asyncio.Server | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.records if r.topic == topic]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Down, like a broker that died: the port refuses, open connections are cut."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                frame = BytesIO(await reader.readexactly(size))
                api_key, version, correlation_id, _client = RequestHeader_v1.SCHEMA.decode(frame)
                kind = REQUESTS.get(api_key)
                if kind is None or version != kind.API_VERSION:
                    return  # unknown to this broker: hang up
                request = kind.decode(frame)
                answer = kind.RESPONSE_TYPE(*self._answer(request))
                if isinstance(request, ProduceRequest_v7) and self.lose_acks > 0:
                    self.lose_acks -= 1
                    return  # stored, never acknowledged: the producer must send it again
                body = ResponseHeader_v0(correlation_id).encode() + answer.encode()
                writer.write(struct.pack(">i", len(body)) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, request: RequestStruct) -> tuple[Any, ...]:
        if isinstance(request, ApiVersionRequest_v0):
            return NoError.errno, [(k, r.API_VERSION, r.API_VERSION) for k, r in REQUESTS.items()]
        if isinstance(request, MetadataRequest_v5):
            return self._metadata(request.topics)
        if isinstance(request, InitProducerIdRequest_v0):
            return 0, NoError.errno, next(self._producer_ids), 0
        assert isinstance(request, ProduceRequest_v7)
        return [(t, [self._produce(t, p, data) for p, data in ps]) for t, ps in request.topics], 0

    def _metadata(self, wanted: list[str] | None) -> tuple[Any, ...]:
        for topic in wanted or []:
            self.topics.setdefault(topic, self.partitions)  # auto-created
        topics = [
            (NoError.errno, topic, False, [self._partition(p) for p in range(self.topics[topic])])
            for topic in (self.topics if wanted is None else wanted)
        ]
        return 0, [(NODE_ID, self.host, self.port, None)], "fake-kafka", NODE_ID, topics

    @staticmethod
    def _partition(index: int) -> tuple[Any, ...]:
        return NoError.errno, index, NODE_ID, [NODE_ID], [NODE_ID], []

    def _produce(self, topic: str, partition: int, data: bytes) -> tuple[Any, ...]:
        """(partition, error code, base offset, log append time, log start offset)"""
        if partition >= self.topics.get(topic, 0):
            return partition, UnknownTopicOrPartitionError.errno, -1, -1, 0
        records, first = MemoryRecords(data), -1
        while (batch := records.next_batch()) is not None:
            producer = (topic, partition, batch.producer_id)
            stored = self._batches.setdefault(producer, {})
            if batch.producer_id >= 0 and batch.base_sequence in stored:
                self.duplicates += 1  # a retry of a batch already in the log
                offset = stored[batch.base_sequence]
            elif batch.producer_id >= 0 and batch.base_sequence != self._next_sequence.get(
                producer, 0
            ):
                return partition, OutOfOrderSequenceNumber.errno, -1, -1, 0
            else:
                offset = self._log_end.get((topic, partition), 0)
                for n, record in enumerate(batch):
                    headers = tuple(record.headers)
                    self.records.append(
                        Record(topic, partition, offset + n, record.key, record.value, headers)
                    )
                self._log_end[(topic, partition)] = offset + batch.last_offset_delta + 1
                self._next_sequence[producer] = batch.base_sequence + batch.last_offset_delta + 1
                stored[batch.base_sequence] = offset
            first = offset if first < 0 else first
        return partition, NoError.errno, first, -1, 0
