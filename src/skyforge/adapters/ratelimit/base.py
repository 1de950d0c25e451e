"""The rate-limiter port: a token bucket per key, plus the few counters a login guard needs."""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Rule:
    """A token bucket: `capacity` requests at once, refilled at `refill_per_second`."""

    capacity: int
    refill_per_second: float

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("a rule needs a capacity of at least 1")
        # A bucket that never refills would never expire either: memory would only grow.
        if not (self.refill_per_second > 0 and math.isfinite(self.refill_per_second)):
            raise ValueError("a rule needs a positive, finite refill rate")


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one request may go on; if not, how long to wait before the next token."""

    allowed: bool
    retry_after: float
    remaining: int


class Counters(Protocol):
    """Counters and blocks by key: all a login guard needs (see login.py)."""

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter `key`, forgotten `ttl` seconds after its last increment."""
        ...

    async def count(self, key: str) -> int:
        """The counter `key` (0 when unknown or forgotten)."""
        ...

    async def block(self, key: str, seconds: float) -> None:
        """Block `key` for `seconds` from now (replacing any earlier block)."""
        ...

    async def blocked_for(self, key: str) -> float:
        """Seconds until the block on `key` ends (0 when not blocked)."""
        ...

    async def reset(self, *keys: str) -> None:
        """Forget the buckets, counters and blocks under `keys`."""
        ...


class RateLimiter(Counters, Protocol):
    """Token buckets, counters and blocks shared by everything that limits by key."""

    async def hit(self, key: str, rule: Rule) -> Decision:
        """Take one token from the bucket `key` (full when first seen)."""
        ...


def take(tokens: float, elapsed: float, rule: Rule) -> tuple[float, Decision, float]:
    """One hit on a bucket that held `tokens` `elapsed` seconds ago: (tokens, decision, ttl)."""
    # ttl: until the bucket is full again; from then on no entry means the same as a full
    # bucket, so the entry can go. The Redis Lua script does the same arithmetic.
    tokens = min(float(rule.capacity), tokens + max(0.0, elapsed) * rule.refill_per_second)
    if tokens >= 1.0:
        tokens -= 1.0
        decision = Decision(True, 0.0, math.floor(tokens))
    else:
        decision = Decision(False, (1.0 - tokens) / rule.refill_per_second, 0)
    return tokens, decision, (rule.capacity - tokens) / rule.refill_per_second


def digest(secret: str) -> str:
    """A key for a secret (a bearer token, an account name) that never stores the secret."""
    # Domain-separated, so a key never equals (a prefix of) a token hash stored elsewhere.
    return hashlib.sha256(b"skyforge-ratelimit\0" + secret.encode()).hexdigest()[:32]


def ip_key(host: str) -> str:
    """The limiting key of a client address: IPv6 by /64, since one host usually owns a /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
