"""Cache benchmark: the hot authorization path with and without the cache of hot reads.

For each of: no cache (SKYFORGE_CACHE_TTL=0), the in-process cache, the Redis cache, on a fresh
PostgreSQL database (or SQLite with --sqlite), prints the latency of
- auth: authenticating a personal token and authorizing `service.read` in a project (what
  every /api/v1/projects/{project}/... request does before its handler), called directly;
- request: GET /api/v1/projects/shop/services/web through the whole app (in-process ASGI, no
  network), as a project developer with a personal token.

Run: .venv/bin/python bench/cache.py [--requests 500] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skyforge.api.app import create_app  # noqa: E402
from skyforge.bootstrap import Platform  # noqa: E402
from skyforge.config import Settings  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
ADMIN = "bench-admin-token-0123456789abcdef"
PASSWORD = "correct horse battery staple"


async def timed(n: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(min(20, n)):  # warm up (and fill the cache)
        await call()
    took = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        took.append((time.perf_counter() - started) * 1000)
    return took


def summary(took: list[float]) -> str:
    took = sorted(took)
    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
    return f"median {statistics.median(took):6.2f} ms   p99 {p99:6.2f} ms"


async def setup(api: httpx.AsyncClient) -> str:
    """A project with a service and a developer; the developer's personal token."""
    await api.post("/api/v1/projects", json={"name": "shop"})
    web = {"name": "web", "source": {"git": "/srv/shop.git"}}
    await api.post("/api/v1/projects/shop/services", json=web)
    invitation = (await api.post("/api/v1/invitations", json={"email": "dev@example.com"})).json()
    body = {"invitation": invitation["token"], "email": "dev@example.com"}
    await api.post("/api/v1/auth/signup", json={**body, "password": PASSWORD, "name": "dev"})
    login = await api.post(
        "/api/v1/auth/login", json={"email": "dev@example.com", "password": PASSWORD}
    )
    await api.post(
        "/api/v1/projects/shop/members", json={"email": "dev@example.com", "role": "developer"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = await api.post("/api/v1/tokens", json={"name": "bench"}, headers=headers)
    token: str = made.json()["token"]
    return token


async def run(label: str, settings: Settings, n: int) -> None:
    platform = Platform(settings)
    await platform.start(background=False)
    try:
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ) as api:
            token = await setup(api)

            async def auth() -> None:
                principal = await platform.cache.authenticate(token)
                await platform.cache.authorize(principal, "shop", "service.read")

            async def request() -> None:
                got = await api.get(
                    "/api/v1/projects/shop/services/web",
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert got.status_code == 200, got.text

            print(f"{label:10} auth     {summary(await timed(n, auth))}")
            print(f"{label:10} request  {summary(await timed(n, request))}")
    finally:
        await platform.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    prefix = f"skyforge-bench-{uuid.uuid4().hex[:8]}:"
    extra: dict[str, object]
    for label, extra in (
        ("no cache", {"cache_ttl": 0}),
        ("in-process", {}),
        ("redis", {"redis_url": REDIS, "redis_prefix": prefix}),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            name = f"skyforge_bench_{uuid.uuid4().hex[:8]}"
            if args.sqlite:
                url = f"sqlite:///{tmp}/bench.db"
            else:
                admin = await asyncpg.connect(POSTGRES)
                await admin.execute(f'CREATE DATABASE "{name}"')
                await admin.close()
                url = POSTGRES.rsplit("/", 1)[0] + "/" + name
            settings = Settings(
                data_dir=Path(tmp) / "data",
                database_url=url,
                runtime="null",
                edge="null",
                admin_token=ADMIN,
                rate_api_burst=10**9,
                rate_ip_burst=10**9,
            ).model_copy(update=extra)
            try:
                await run(label, settings, args.requests)
            finally:
                if not args.sqlite:
                    admin = await asyncpg.connect(POSTGRES)
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await admin.close()
                if "redis_url" in extra:
                    client = redis.from_url(REDIS)
                    async for key in client.scan_iter(match=f"{prefix}*"):
                        await client.delete(key)
                    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
