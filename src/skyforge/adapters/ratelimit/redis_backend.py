"""The Redis rate limiter: one limit shared by every API replica, on the server's clock."""

from __future__ import annotations

import math

from redis.asyncio import Redis

from skyforge.adapters.ratelimit.base import Decision, Rule
from skyforge.adapters.redisguard import GuardedRedis

# The same arithmetic as base.take, atomically, on the server's TIME: replicas with skewed
# clocks still share one bucket. The key expires exactly when the bucket would be full again.
# Floats are stored with string.format: Lua's tostring keeps 14 digits, too few for a
# timestamp in microseconds.
_HIT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 't', 's')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = capacity
else
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(capacity, tokens + elapsed * rate)
end
local allowed, retry = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 's', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / rate * 1000)))
return {allowed, string.format('%.6f', retry), math.floor(tokens)}
"""


class RedisRateLimiter:
    """Buckets, counters and blocks in Redis under `prefix`, shared by every replica."""

    # When Redis is unreachable: fail_open=True (the default, right for general API traffic)
    # lets requests through and logs one warning per outage, since an outage of the cache must
    # not become an outage of the API; fail_open=False refuses (Retry-After: the pause), for
    # limits that protect more than availability. After a failure Redis is left alone for
    # `outage_pause` seconds, so an outage does not cost a connect timeout per request.

    def __init__(
        self,
        url_or_client: str | Redis,
        prefix: str = "skyforge:ratelimit:",
        *,
        fail_open: bool = True,
        timeout: float = 0.5,
        outage_pause: float = 1.0,
    ) -> None:
        mode = "open (requests are not limited)" if fail_open else "closed"
        self._guarded = GuardedRedis(
            url_or_client, what=f"rate limiter, failing {mode}", timeout=timeout, pause=outage_pause
        )
        self._redis = self._guarded.redis
        self._prefix = prefix
        self._script = self._redis.register_script(_HIT)
        self.fail_open = fail_open
        self._pause = outage_pause
        self._guard = self._guarded.guard

    async def aclose(self) -> None:
        """Close the client this limiter made (a client passed in belongs to the caller)."""
        await self._guarded.aclose()

    async def hit(self, key: str, rule: Rule) -> Decision:
        """Take one token from the bucket `key` (full when first seen)."""

        async def run() -> Decision:
            allowed, retry, remaining = await self._script(
                keys=[self._prefix + "b:" + key], args=[rule.capacity, repr(rule.refill_per_second)]
            )
            return Decision(bool(allowed), float(retry), int(remaining))

        if self.fail_open:
            return await self._guard(run, Decision(True, 0.0, rule.capacity - 1))
        return await self._guard(run, Decision(False, max(1.0, self._pause), 0))

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter `key`, forgotten `ttl` seconds after its last increment."""

        async def run() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                name = self._prefix + "n:" + key
                pipe.incr(name)
                pipe.pexpire(name, max(1, math.ceil(ttl * 1000)))
                value, _ = await pipe.execute()
            return int(value)

        return await self._guard(run, 0)

    async def count(self, key: str) -> int:
        """The counter `key` (0 when unknown or forgotten)."""

        async def run() -> int:
            value = await self._redis.get(self._prefix + "n:" + key)
            return 0 if value is None else int(value)

        return await self._guard(run, 0)

    async def block(self, key: str, seconds: float) -> None:
        """Block `key` for `seconds` from now (replacing any earlier block)."""
        if seconds <= 0:
            return

        async def run() -> None:
            await self._redis.set(self._prefix + "l:" + key, b"1", px=math.ceil(seconds * 1000))

        await self._guard(run, None)

    async def blocked_for(self, key: str) -> float:
        """Seconds until the block on `key` ends (0 when not blocked)."""

        async def run() -> float:
            millis = int(await self._redis.pttl(self._prefix + "l:" + key))
            return max(0.0, millis / 1000)  # -2: no key, -1: no expiry (never written so)

        return await self._guard(run, 0.0 if self.fail_open else max(1.0, self._pause))

    async def reset(self, *keys: str) -> None:
        """Forget the buckets, counters and blocks under `keys`."""
        names = [self._prefix + kind + key for key in keys for kind in ("b:", "n:", "l:")]
        if not names:
            return

        async def run() -> None:
            await self._redis.delete(*names)

        await self._guard(run, None)
