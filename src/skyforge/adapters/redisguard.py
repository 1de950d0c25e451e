"""A Redis client that fails fast, and a breaker in front of it.

The default client retries with backoff for seconds on every call; for a cache or a rate
limiter a dead Redis must cost a request half a second once, not every time: after an outage
the breaker answers the caller's fallback for `pause` seconds without trying.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError

log = logging.getLogger(__name__)

T = TypeVar("T")

OUTAGE = (ConnectionError, TimeoutError, ReadOnlyError, OSError, builtins.TimeoutError)


class GuardedRedis:
    """`redis` for the calls; `guard(run, fallback)` around each of them."""

    def __init__(
        self, url_or_client: str | Redis, *, what: str, timeout: float = 0.5, pause: float = 1.0
    ) -> None:
        if isinstance(url_or_client, str):
            self.redis = Redis.from_url(
                url_or_client,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
            self._owned = True
        else:
            self.redis, self._owned = url_or_client, False  # the caller's: it closes it
        self.what = what  # "redis cache (reading through to the database)", for the log
        self.pause = pause
        self._down_until = 0.0
        self.down = False

    async def aclose(self) -> None:
        if self._owned:
            await self.redis.aclose()

    async def guard(self, run: Callable[[], Awaitable[T]], fallback: T) -> T:
        """`run()`, or `fallback` when Redis is away (now, or within `pause` of the last try)."""
        if time.monotonic() < self._down_until:
            return fallback
        try:
            result = await run()
        except OUTAGE as exc:
            self._down_until = time.monotonic() + self.pause
            if not self.down:
                self.down = True
                log.warning("%s: Redis unreachable (%s)", self.what, type(exc).__name__)
            return fallback
        if self.down:
            self.down = False
            log.warning("%s: Redis reachable again", self.what)
        return result
