"""Cache adapters: in-process (bounded LRU with TTL), Redis (shared by every replica), none.

Both keep one generation per tag (see kernel/cache.py); an entry stores the generations of its
tags as they were before its value was read from the database, and is served only while they
are unchanged. Values are JSON in both, so the in-process cache behaves exactly as Redis does
(no shared mutable objects, no value that would not survive the trip).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from skyforge.adapters.redisguard import GuardedRedis
from skyforge.kernel.cache import Lookup, Stamp

log = logging.getLogger(__name__)
T = TypeVar("T")


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class NullCache:
    """No cache at all (SKYFORGE_CACHE_TTL=0): every read goes to the database."""

    async def get(self, key: str, tags: Sequence[str]) -> Lookup:
        return Lookup(False)

    async def put(self, key: str, value: Any, stamp: Stamp, ttl: float) -> None:
        return None

    async def invalidate(self, tags: Iterable[str]) -> None:
        return None

    async def aclose(self) -> None:
        return None


class MemoryCache:
    """This process only: the least recently used entries go past `max_entries`."""

    # Generations come from one counter and are never reused. A tag never bumped has the
    # "floor" generation, set anew whenever the tag table is emptied (it is bounded too), so
    # forgetting tags can never make an old stamp match again.

    def __init__(
        self,
        max_entries: int = 10_000,
        max_tags: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, Stamp, str]] = OrderedDict()
        self._gens: dict[str, str] = {}
        self._counter = itertools.count(1)
        self._floor = "0"
        self.max_entries, self.max_tags, self._clock = max_entries, max_tags, clock

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str, tags: Sequence[str]) -> Lookup:
        stamp = tuple(self._gens.get(tag, self._floor) for tag in tags)
        entry = self._entries.get(key)
        if entry is None:
            return Lookup(False, None, stamp)
        expires, stored, raw = entry
        if expires <= self._clock() or stored != stamp:
            del self._entries[key]
            return Lookup(False, None, stamp)
        self._entries.move_to_end(key)
        return Lookup(True, json.loads(raw), stamp)

    async def put(self, key: str, value: Any, stamp: Stamp, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = (self._clock() + ttl, stamp, _dump(value))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def invalidate(self, tags: Iterable[str]) -> None:
        for tag in tags:
            self._gens[tag] = str(next(self._counter))
        if len(self._gens) > self.max_tags:
            self.clear()

    def clear(self) -> None:
        """Forget everything (safe at any time: every stamp handed out so far stops matching)."""
        self._entries.clear()
        self._gens.clear()
        self._floor = str(next(self._counter))

    async def aclose(self) -> None:
        self.clear()


class RedisCache:
    """Entries and generations in Redis under `prefix`, shared by every replica."""

    # Keys: {prefix}e:{key} -> {"g": stamp, "v": value} with a TTL; {prefix}g:{tag} -> an
    # integer generation. A tag first seen gets a random 62-bit generation (never 0), so an
    # expired or evicted generation key can never bring back a stamp an old entry holds; bumps
    # are INCR. Generation keys live `tag_ttl` after their last bump (far longer than any entry).
    # One round trip per read (MGET of the entry and its tags). When Redis is unreachable every
    # read is a miss (the database answers), and invalidations that failed are retried before
    # anything else is done once it answers again (the event feed repeats them later, too).

    def __init__(
        self,
        url_or_client: str | Redis,
        prefix: str = "skyforge:cache:",
        *,
        timeout: float = 0.5,
        outage_pause: float = 1.0,
        tag_ttl: float = 86_400.0,
    ) -> None:
        self._guarded = GuardedRedis(
            url_or_client,
            what="redis cache (reading through to the database)",
            timeout=timeout,
            pause=outage_pause,
        )
        self._redis = self._guarded.redis
        self._prefix = prefix
        self._tag_ttl = max(1, math.ceil(tag_ttl))
        self._pending: set[str] = set()  # tags whose invalidation has not reached Redis yet

    async def aclose(self) -> None:
        await self._guarded.aclose()

    def _entry(self, key: str) -> str:
        return f"{self._prefix}e:{key}"

    def _tag(self, tag: str) -> str:
        return f"{self._prefix}g:{tag}"

    async def get(self, key: str, tags: Sequence[str]) -> Lookup:
        async def run() -> Lookup:
            found = await self._redis.mget([self._entry(key), *map(self._tag, tags)])
            raw, gens = found[0], [None if g is None else _text(g) for g in found[1:]]
            missing = [i for i, gen in enumerate(gens) if gen is None]
            seeded = await self._seed([tags[i] for i in missing]) if missing else []
            for i, gen in zip(missing, seeded, strict=True):
                gens[i] = gen
            stamp = tuple(str(g) for g in gens)
            if raw is not None and not missing:
                doc = json.loads(raw)
                if tuple(doc["g"]) == stamp:
                    return Lookup(True, doc["v"], stamp)
            return Lookup(False, None, stamp)

        return await self._guard(run, Lookup(False))

    async def _seed(self, tags: list[str]) -> list[str]:
        """Give never-seen tags a random first generation; whoever sets it first wins."""
        names = [self._tag(tag) for tag in tags]
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.set(name, secrets.randbits(62) + 1, nx=True, ex=self._tag_ttl)
            pipe.mget(names)
            *_, gens = await pipe.execute()
        return [_text(g) for g in gens]

    async def put(self, key: str, value: Any, stamp: Stamp, ttl: float) -> None:
        if ttl <= 0:
            return

        async def run() -> None:
            doc = _dump({"g": list(stamp), "v": value})
            await self._redis.set(self._entry(key), doc, px=max(1, math.ceil(ttl * 1000)))

        await self._guard(run, None)

    async def invalidate(self, tags: Iterable[str]) -> None:
        self._pending.update(tags)
        await self._guard(self._flush, None)

    async def _flush(self) -> None:
        if not self._pending:
            return
        tags = sorted(self._pending)
        async with self._redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.incr(self._tag(tag))
                pipe.expire(self._tag(tag), self._tag_ttl)
            await pipe.execute()
        self._pending.difference_update(tags)

    async def _guard(self, run: Callable[[], Awaitable[T]], fallback: T) -> T:
        async def flushed_then_run() -> T:
            if self._pending:
                await self._flush()  # never serve an entry an invalidation not yet sent covers
            return await run()

        return await self._guarded.guard(flushed_then_run, fallback)


class CacheStats(Collector):
    """Hits and misses per key family, for a Prometheus registry (`registry.register(stats)`)."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}

    def hit(self, family: str) -> None:
        self.hits[family] = self.hits.get(family, 0) + 1

    def miss(self, family: str) -> None:
        self.misses[family] = self.misses.get(family, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, doc, counts in (
            ("skyforge_cache_hits", "Reads answered from the cache", self.hits),
            ("skyforge_cache_misses", "Reads that went to the database", self.misses),
        ):
            metric = CounterMetricFamily(name, doc, labels=["family"])
            for family, count in sorted(counts.items()):
                metric.add_metric([family], count)
            yield metric
