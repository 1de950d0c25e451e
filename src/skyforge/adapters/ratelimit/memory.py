"""The in-process rate limiter: one API process (the embedded default), bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from skyforge.adapters.ratelimit.base import Decision, Rule, take


class _Entry(NamedTuple):
    value: float  # tokens of a bucket, or the value of a counter
    stamp: float  # when a bucket's tokens were counted
    expires_at: float


class MemoryRateLimiter:
    """Buckets, counters and blocks in at most `max_keys` entries, least recently used first out."""

    # Entries expire when a bucket is full again, a counter is forgotten or a block ends. Only
    # when more than `max_keys` keys are live at once does eviction lose state (a bucket starts
    # full again): the price of a bound that an attacker inventing keys cannot push.

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def hit(self, key: str, rule: Rule) -> Decision:
        """Take one token from the bucket `key` (full when first seen)."""
        now = self._clock()
        entry = self._get("b:" + key, now)
        tokens, elapsed = (
            (rule.capacity, 0.0) if entry is None else (entry.value, now - entry.stamp)
        )
        tokens, decision, ttl = take(tokens, elapsed, rule)
        self._put("b:" + key, _Entry(tokens, now, now + ttl))
        return decision

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter `key`, forgotten `ttl` seconds after its last increment."""
        now = self._clock()
        entry = self._get("n:" + key, now)
        value = 1 + (0 if entry is None else int(entry.value))
        self._put("n:" + key, _Entry(value, now, now + ttl))
        return value

    async def count(self, key: str) -> int:
        """The counter `key` (0 when unknown or forgotten)."""
        entry = self._get("n:" + key, self._clock())
        return 0 if entry is None else int(entry.value)

    async def block(self, key: str, seconds: float) -> None:
        """Block `key` for `seconds` from now (replacing any earlier block)."""
        now = self._clock()
        self._put("l:" + key, _Entry(0.0, now, now + seconds))

    async def blocked_for(self, key: str) -> float:
        """Seconds until the block on `key` ends (0 when not blocked)."""
        now = self._clock()
        entry = self._get("l:" + key, now)
        return 0.0 if entry is None else entry.expires_at - now

    async def reset(self, *keys: str) -> None:
        """Forget the buckets, counters and blocks under `keys`."""
        for key in keys:
            for kind in ("b:", "n:", "l:"):
                self._entries.pop(kind + key, None)

    def _get(self, name: str, now: float) -> _Entry | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._entries[name]
            return None
        self._entries.move_to_end(name)
        return entry

    def _put(self, name: str, entry: _Entry) -> None:
        self._entries[name] = entry
        self._entries.move_to_end(name)
        # The oldest entries are the likeliest to have expired: drop a couple per write, so
        # idle keys go away even while the dict is below its bound.
        for _ in range(2):
            oldest = next(iter(self._entries.values()), None)
            if oldest is None or oldest.expires_at > entry.stamp:
                break
            self._entries.popitem(last=False)
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)
