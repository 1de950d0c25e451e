"""Outgoing webhooks: a project's subscription to event types, and each event's delivery.

Plain Python: the signature scheme, the subscription rule and the retry schedule live here so
every entry point (API, worker, tests) agrees on them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SIGNATURE_HEADER = "X-SkyForge-Signature"
PING = "webhook.ping"  # not a domain event: sent on request to test a receiver
ALL = "*"
MAX_EVENTS = 50
MAX_LOG = 20  # attempts remembered per delivery


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

    The key is the secret as shown at creation (its UTF-8 bytes); the timestamp is signed too,
    so a receiver refusing old timestamps refuses replays."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def matches(patterns: tuple[str, ...], event_type: str) -> bool:
    """Does a subscription to `patterns` ("*", "deploy.*", "deploy.succeeded") cover the type?"""
    for pattern in patterns:
        if pattern in (ALL, event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: base, base*factor, ... until max_attempts."""

    base_seconds: float = 10.0
    factor: float = 3.0
    max_attempts: int = 8
    max_delay_seconds: float = 3 * 3600.0
    jitter: float = 0.2  # +-20 %: receivers that failed together are not retried together

    def delay(self, attempts: int) -> timedelta | None:
        """The wait after the `attempts`-th failed attempt; None: give up."""
        if attempts >= self.max_attempts:
            return None
        seconds = min(self.base_seconds * self.factor ** (attempts - 1), self.max_delay_seconds)
        seconds *= 1 + random.uniform(-self.jitter, self.jitter)
        return timedelta(seconds=max(seconds, 0.0))


@dataclass
class Webhook:
    """A project's subscription: events of these types are POSTed, signed, to the URL."""

    id: str
    project_id: str
    project: str
    url: str
    events: tuple[str, ...]
    active: bool
    sealed_secret: bytes  # the signing secret, sealed under the secrets' master keys
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return self.active and matches(self.events, event_type)

    @property
    def binding(self) -> bytes:
        """Associated data of the sealed secret: it cannot be moved to another webhook."""
        return f"webhook:{self.id}".encode()


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SUCCEEDED = "succeeded"  # a 2xx answer
    FAILED = "failed"  # every attempt failed: given up


@dataclass(frozen=True)
class Attempt:
    """One try: when, how it ended (an HTTP status or an error) and how long it took."""

    at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Attempt:
        return cls(
            datetime.fromisoformat(doc["at"]), doc["status_code"], doc["latency_ms"], doc["error"]
        )


@dataclass
class Delivery:
    """One event for one webhook: the exact body sent, and its attempts so far."""

    id: str
    webhook_id: str
    project: str
    event_id: str
    event_type: str
    body: str  # JSON, fixed at creation: every attempt sends the same bytes
    status: Status
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None = None
    log: list[Attempt] = field(default_factory=list)

    @property
    def last(self) -> Attempt | None:
        return self.log[-1] if self.log else None

    def record(self, attempt: Attempt, retry: RetryPolicy) -> None:
        """The outcome of an attempt: done, failed for good, or due again after a backoff."""
        self.attempts += 1
        self.log = [*self.log, attempt][-MAX_LOG:]
        if attempt.ok:
            self.status, self.delivered_at, self.next_attempt_at = (
                Status.SUCCEEDED,
                attempt.at,
                None,
            )
            return
        wait = retry.delay(self.attempts)
        if wait is None:
            self.status, self.next_attempt_at = Status.FAILED, None
        else:
            self.status, self.next_attempt_at = Status.PENDING, attempt.at + wait

    def redeliver(self, at: datetime) -> None:
        """Send again now, with a fresh budget of attempts (the log keeps the old ones)."""
        self.status, self.attempts, self.next_attempt_at = Status.PENDING, 0, at
