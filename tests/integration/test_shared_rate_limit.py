"""Two API replicas on the real Redis enforce one rate limit and one login lockout."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as redis

from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.config import Settings

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    prefix = f"skyforge-test-{uuid.uuid4().hex}:"
    shared = settings.model_copy(
        update={
            "redis_url": REDIS,
            "redis_prefix": prefix,
            "rate_auth_burst": 4,
            "rate_auth_per_second": 0.01,
        }
    )
    # Two replicas: one database and one Redis, each its own data dir (one process a data dir).
    other = shared.model_copy(update={"data_dir": shared.data_dir.parent / "replica-2"})
    platforms = [Platform(shared), Platform(other)]
    clients = []
    try:
        for platform in platforms:
            await platform.start()
            clients.append(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=create_app(platform)),
                    base_url="http://skyforge.test",
                )
            )
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for platform in platforms:
            await platform.stop()
        cleanup = redis.from_url(REDIS)
        async for key in cleanup.scan_iter(match=f"{prefix}*"):
            await cleanup.delete(key)
        await cleanup.aclose()


async def test_two_replicas_share_one_limit_on_login(replicas: list[httpx.AsyncClient]) -> None:
    attempt = {"email": "nobody@example.com", "password": "not the right one"}
    statuses = [
        (await replicas[i % 2].post("/api/v1/auth/login", json=attempt)).status_code
        for i in range(6)
    ]
    assert statuses[:4] == [401, 401, 401, 401]
    assert statuses[4:] == [429, 429]  # the burst of 4 is spent across both replicas
    limited = await replicas[1].post("/api/v1/auth/login", json=attempt)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"
