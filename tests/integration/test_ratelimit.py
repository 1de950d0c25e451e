"""The rate limiter contract, run on the in-process and the Redis limiter, and the login guard."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from skyforge.adapters.ratelimit import (
    LockoutPolicy,
    LoginGuard,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    Rule,
    ip_key,
)

REDIS_URL = os.environ.get("SKYFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    prefix = f"skyforge-test-{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis_limiter = RedisRateLimiter(REDIS_URL, redis_prefix, fail_open=False)
    try:
        yield redis_limiter
    finally:
        await redis_limiter.aclose()


async def test_a_bucket_allows_its_capacity_then_refuses(limiter: RateLimiter) -> None:
    rule = Rule(capacity=3, refill_per_second=0.5)
    decisions = [await limiter.hit("k", rule) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]


async def test_retry_after_is_the_time_until_the_next_token(limiter: RateLimiter) -> None:
    rule = Rule(capacity=2, refill_per_second=4.0)
    await limiter.hit("k", rule)
    await limiter.hit("k", rule)
    refused = await limiter.hit("k", rule)
    assert not refused.allowed
    assert 0.15 < refused.retry_after <= 0.25


async def test_a_bucket_refills_over_time(limiter: RateLimiter) -> None:
    rule = Rule(capacity=2, refill_per_second=20.0)
    for _ in range(2):
        assert (await limiter.hit("k", rule)).allowed
    refused = await limiter.hit("k", rule)
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after + 0.02)
    assert (await limiter.hit("k", rule)).allowed
    assert not (await limiter.hit("k", rule)).allowed
    await asyncio.sleep(2 / 20 + 0.03)  # full again, and never beyond the capacity
    assert [(await limiter.hit("k", rule)).allowed for _ in range(3)] == [True, True, False]


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    rule = Rule(capacity=1, refill_per_second=0.1)
    assert (await limiter.hit("a", rule)).allowed
    assert not (await limiter.hit("a", rule)).allowed
    assert (await limiter.hit("b", rule)).allowed


async def test_counters_count_and_are_forgotten(limiter: RateLimiter) -> None:
    assert await limiter.count("c") == 0
    assert [await limiter.incr("c", ttl=0.15) for _ in range(3)] == [1, 2, 3]
    assert await limiter.count("c") == 3
    await asyncio.sleep(0.2)
    assert await limiter.count("c") == 0


async def test_blocks_end_by_themselves_and_reset_clears_everything(
    limiter: RateLimiter,
) -> None:
    await limiter.block("x", 0.15)
    assert 0.05 < await limiter.blocked_for("x") <= 0.15
    assert await limiter.blocked_for("y") == 0
    await asyncio.sleep(0.2)
    assert await limiter.blocked_for("x") == 0

    rule = Rule(capacity=1, refill_per_second=0.1)
    await limiter.hit("x", rule)
    await limiter.incr("x", ttl=10)
    await limiter.block("x", 10)
    await limiter.reset("x")
    assert (await limiter.hit("x", rule)).allowed
    assert await limiter.count("x") == 0
    assert await limiter.blocked_for("x") == 0


async def test_two_redis_replicas_share_one_bucket(redis_prefix: str) -> None:
    one, two = RedisRateLimiter(REDIS_URL, redis_prefix), RedisRateLimiter(REDIS_URL, redis_prefix)
    try:
        rule = Rule(capacity=2, refill_per_second=0.1)
        assert (await one.hit("shared", rule)).allowed
        assert (await two.hit("shared", rule)).allowed
        assert not (await one.hit("shared", rule)).allowed
        assert not (await two.hit("shared", rule)).allowed
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_redis_bucket_expires_when_full_again(redis_prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    limiter = RedisRateLimiter(client, redis_prefix)
    try:
        await limiter.hit("k", Rule(capacity=5, refill_per_second=50.0))
        keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
        assert len(keys) == 1
        assert 0 < await client.pttl(keys[0]) <= 20  # one token at 50/s: 20 ms to full
        await asyncio.sleep(0.06)
        assert await client.exists(keys[0]) == 0
    finally:
        await limiter.aclose()  # the client was passed in: it stays open
        assert await client.ping()
        await client.aclose()


async def test_unreachable_redis_fails_open_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter(UNREACHABLE, "unused:")
    rule = Rule(capacity=1, refill_per_second=0.1)
    try:
        with caplog.at_level(logging.WARNING, logger="skyforge.adapters.ratelimit"):
            decisions = [await limiter.hit("k", rule) for _ in range(3)]
        assert all(d.allowed for d in decisions)
        assert await limiter.blocked_for("k") == 0
        assert await limiter.incr("k", 10) == 0
        warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1, "one warning per outage, not one per request"
        assert "failing open" in warnings[0].getMessage()
    finally:
        await limiter.aclose()


async def test_unreachable_redis_can_fail_closed() -> None:
    limiter = RedisRateLimiter(UNREACHABLE, "unused:", fail_open=False)
    try:
        refused = await limiter.hit("k", Rule(capacity=10, refill_per_second=1.0))
        assert not refused.allowed
        assert refused.retry_after >= 1
        assert await limiter.blocked_for("k") >= 1
    finally:
        await limiter.aclose()


async def test_the_memory_limiter_holds_at_most_max_keys() -> None:
    limiter = MemoryRateLimiter(max_keys=10)
    rule = Rule(capacity=5, refill_per_second=0.001)
    for n in range(100):
        await limiter.hit(f"key-{n}", rule)
    assert len(limiter) == 10
    assert (await limiter.hit("key-99", rule)).remaining == 3, "recent keys keep their state"


async def test_the_memory_limiter_drops_idle_buckets() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    rule = Rule(capacity=2, refill_per_second=1.0)
    await limiter.hit("a", rule)
    await limiter.hit("b", rule)
    now[0] = 5.0  # both full again: their entries carry nothing
    await limiter.hit("c", rule)
    assert len(limiter) == 1


def test_ipv6_clients_are_limited_by_their_64() -> None:
    assert ip_key("2001:db8::1") == ip_key("2001:db8::ffff:2") == "2001:db8::/64"
    assert ip_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert ip_key("192.0.2.7") == "192.0.2.7"


# Login guard: small windows so the suite stays fast.
FAST = LockoutPolicy(account_failures=3, ip_failures=5, first_lock=0.2, max_lock=0.4)
PASSWORD = "correct horse"


async def login(guard: LoginGuard, account: str, ip: str, password: str) -> str:
    """The protocol a login endpoint follows: check, verify only when allowed, then report."""
    if not (await guard.check(account, ip)).allowed:
        return "locked"
    if password != PASSWORD:
        await guard.failed(account, ip)
        return "wrong"
    await guard.succeeded(account, ip)
    return "ok"


async def test_an_account_is_locked_after_n_failures(limiter: RateLimiter) -> None:
    guard = LoginGuard(limiter, FAST)
    assert (await guard.check("alice", "192.0.2.1")).remaining == 3
    results = [await login(guard, "alice", "192.0.2.1", "guess") for _ in range(4)]
    assert results == ["wrong", "wrong", "wrong", "locked"]
    refused = await guard.check("alice", "198.51.100.9")  # from anywhere
    assert not refused.allowed
    assert 0.1 < refused.retry_after <= 0.2
    assert (await guard.check("bob", "192.0.2.1")).allowed, "other accounts are not locked"


async def test_locks_double_and_never_pass_the_cap(limiter: RateLimiter) -> None:
    guard = LoginGuard(limiter, FAST)
    waits = [(await guard.failed("alice", f"192.0.2.{n}")).retry_after for n in range(40)]
    assert waits[:4] == [0, 0, 0.2, 0.4]
    assert max(waits) == 0.4
    assert 0 < (await guard.check("alice", "192.0.2.1")).retry_after <= 0.4
    policy = LockoutPolicy()  # the defaults: 1 min, doubling, at most 15 min
    assert [policy.lock_for(n, 5) for n in (4, 5, 6, 7, 8, 9, 10_000)] == [
        0, 60, 120, 240, 480, 900, 900
    ]  # fmt: skip


async def test_an_attacker_cannot_lock_a_user_out_forever(limiter: RateLimiter) -> None:
    guard = LoginGuard(limiter, FAST)
    attacker, user = "203.0.113.66", "192.0.2.10"
    loop = asyncio.get_running_loop()
    until = loop.time() + 0.3  # past the first lock: the attacker locks the account again
    while loop.time() < until:  # once locked, their tries no longer count as failures
        await login(guard, "alice", attacker, "guess")
        await asyncio.sleep(0.01)
    assert await login(guard, "alice", user, PASSWORD) == "locked"
    await asyncio.sleep((await guard.check("alice", user)).retry_after + 0.02)
    assert await login(guard, "alice", user, PASSWORD) == "ok"
    assert (await guard.check("alice", user)).remaining == FAST.account_failures


async def test_a_success_clears_the_account_but_not_the_address(limiter: RateLimiter) -> None:
    guard = LoginGuard(limiter, FAST)
    spray = "203.0.113.7"
    for n in range(5):  # one guess at each of five accounts: the address is the pattern
        assert await login(guard, f"user{n}", spray, "guess") == "wrong"
    assert await login(guard, "mallory", spray, PASSWORD) == "locked"
    assert await login(guard, "mallory", "192.0.2.20", PASSWORD) == "ok"
    await guard.succeeded("mallory", spray)
    assert not (await guard.check("user9", spray)).allowed


async def test_account_names_are_one_account_whatever_their_case(limiter: RateLimiter) -> None:
    guard = LoginGuard(limiter, FAST)
    for name in ("Alice@Example.com", "alice@example.com", " ALICE@EXAMPLE.COM"):
        await guard.failed(name, "192.0.2.1")
    assert not (await guard.check("alice@example.com", "192.0.2.2")).allowed


async def test_redis_keys_hold_no_account_name(redis_prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    guard = LoginGuard(RedisRateLimiter(client, redis_prefix), FAST)
    try:
        await guard.failed("alice@example.com", "192.0.2.1")
        keys = [key.decode() async for key in client.scan_iter(match=redis_prefix + "*")]
        assert len(keys) == 2
        assert not any("alice" in key for key in keys)
    finally:
        await client.aclose()
