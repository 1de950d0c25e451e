"""Idempotency-Key (as Stripe has it): a repeated POST gets the first answer, not a second run.

The port the API's middleware stores claims and answers through; the database holds them, so
every replica answers the same.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Outcome(enum.Enum):
    NEW = "new"  # first use of the key: the request runs now
    BUSY = "busy"  # its first copy is still running
    MISMATCH = "mismatch"  # the key came with another request before


NEW, BUSY, MISMATCH = Outcome.NEW, Outcome.BUSY, Outcome.MISMATCH


@dataclass(frozen=True)
class Stored:
    """The answer the first request got."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


Claim = Stored | Outcome


class IdempotencyStore(Protocol):
    async def claim(self, caller: str, key: str, fingerprint: str) -> Claim:
        """Record the key for this request, or say what it was used for before (24 h)."""
        ...

    async def complete(self, caller: str, key: str, answer: Stored) -> None:
        """Keep the answer, to give it to every repeat."""
        ...

    async def release(self, caller: str, key: str) -> None:
        """Forget the key: the request failed before answering, a retry may run it."""
        ...
