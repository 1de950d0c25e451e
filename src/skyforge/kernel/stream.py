"""The event stream: committed domain events as envelopes, for consumers beyond this process.

The outbox relay reads the outbox in order and hands each envelope to the stream (NATS JetStream
when configured, else in-process). A consumer registers before the platform starts:

- `consume(group, handler)`: every event once per group across all replicas, at least once and
  in order per subject; the handler must be idempotent (it may see an event again).
- `broadcast(handler)`: every event to every process, live (caches, browsers' live views).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Envelope:
    id: str  # unique; the message id NATS deduplicates by
    type: str  # "deploy.succeeded"
    subject: str  # the project's name, or "-" for platform-wide events
    time: datetime
    actor: str | None  # who caused it ("alice@example.com"), None for SkyForge itself
    payload: dict[str, Any] = field(default_factory=dict)  # never secret values

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "actor": self.actor,
            "data": self.payload,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Envelope:
        return cls(
            id=str(doc["id"]),
            type=str(doc["type"]),
            subject=str(doc["subject"]),
            time=datetime.fromisoformat(str(doc["time"])),
            actor=doc.get("actor"),
            payload=dict(doc.get("data") or {}),
        )


EnvelopeHandler = Callable[[Envelope], Awaitable[None]]


class EventFeed(Protocol):
    def consume(self, group: str, handler: EnvelopeHandler) -> None: ...

    def broadcast(self, handler: EnvelopeHandler) -> None: ...
