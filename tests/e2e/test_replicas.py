"""Two API replicas in two processes (`skyforge up` each) on one PostgreSQL database, one NATS
stream and, in the first test, one Redis: a change made through one replica is seen by the next
read on the other, although that read had been cached there."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest
import redis
from tests.conftest import POSTGRES
from tests.e2e.harness import SkyForge
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.e2e
REDIS = "redis://127.0.0.1:6379/0"
NATS = "nats://127.0.0.1:4222"
SHOP = "/api/v1/projects/shop"


async def _create_database(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _drop_stream(name: str) -> None:
    nc = await nats.connect(NATS)
    try:
        await nc.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[dict[str, str]]:
    """What both replicas share: a fresh database, a Redis prefix, a NATS stream, a master key."""
    tag = uuid.uuid4().hex[:12]
    database = f"skyforge_test_{tag}"
    asyncio.run(_create_database(database))
    env = {
        "SKYFORGE_DATABASE_URL": POSTGRES.rsplit("/", 1)[0] + "/" + database,
        "SKYFORGE_REDIS_PREFIX": f"skyforge-test-{tag}:",
        "SKYFORGE_NATS_URL": NATS,
        "SKYFORGE_NATS_STREAM": f"CACHE_{tag}",
        "SKYFORGE_NATS_SUBJECT_PREFIX": f"cache_{tag}",
        "SKYFORGE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "SKYFORGE_RUNTIME": "null",
        "SKYFORGE_EDGE": "null",
    }
    try:
        yield env
    finally:
        asyncio.run(_drop_stream(env["SKYFORGE_NATS_STREAM"]))
        asyncio.run(_drop_database(database))
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=f"{env['SKYFORGE_REDIS_PREFIX']}*"):
            client.delete(key)
        client.close()


@contextmanager
def two_replicas(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[SkyForge, SkyForge]]:
    # One after the other: the first migrates the database.
    with (
        SkyForge(tmp_path / "a").running(extra_env=env) as a,
        SkyForge(tmp_path / "b").running(extra_env=env) as b,
    ):
        yield a, b


def client(replica: SkyForge, token: str) -> httpx.Client:
    made = httpx.Client(
        base_url=replica.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    replica.clients.append(made)
    return made


def user_token(admin: httpx.Client, email: str) -> str:
    """A new user's personal API token, made through the API."""
    invitation = admin.post("/api/v1/invitations", json={"email": email}).json()["token"]
    body = {"invitation": invitation, "email": email, "password": PASSWORD, "name": "x"}
    assert admin.post("/api/v1/auth/signup", json=body).status_code == 201
    login = admin.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    session = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = admin.post("/api/v1/tokens", json={"name": "cli"}, headers=session)
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


def cache_hits(replica: SkyForge) -> float:
    text = httpx.get(f"{replica.url}/metrics").text
    return sum(float(v) for v in re.findall(r"^skyforge_cache_hits_total\{.*\} (\S+)$", text, re.M))


def warm(read: Callable[[], httpx.Response], times: int = 3) -> httpx.Response:
    for _ in range(times):
        response = read()
    return response


def test_with_redis_a_change_on_one_replica_is_seen_at_once_on_the_other(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    env = {**shared, "SKYFORGE_REDIS_URL": REDIS}
    with two_replicas(tmp_path, env) as (a, b):
        admin_a, admin_b = a.api(), b.api()
        assert admin_a.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        web = {"name": "web", "source": {"git": "/srv/shop.git"}}
        assert admin_a.post(f"{SHOP}/services", json=web).status_code == 201
        bob_token = user_token(admin_a, "bob@example.com")
        member = {"email": "bob@example.com", "role": "developer"}
        assert admin_a.post(f"{SHOP}/members", json=member).status_code == 201
        bob_b = client(b, bob_token)
        ci = admin_a.post("/api/v1/tokens", json={"name": "ci", "scope": "read"}).json()
        ci_b = client(b, ci["token"])
        time.sleep(1)  # let the feed's own invalidations of the set-up pass first

        # Warm replica B's cache: authentication, role, project list, service lookups.
        before = cache_hits(b)
        assert warm(lambda: bob_b.get(f"{SHOP}/services/web")).json()["scale"] == {}
        assert warm(lambda: ci_b.get("/api/v1/projects")).status_code == 200
        listed = warm(lambda: admin_b.get("/api/v1/projects")).json()["items"]
        assert [p["name"] for p in listed] == ["shop"]
        assert cache_hits(b) >= before + 6  # B answers these from the cache now

        # Change on A; the next read on B sees it.
        patched = admin_a.patch(f"{SHOP}/services/web", json={"scale": {"web": 3}})
        assert patched.status_code == 200
        assert bob_b.get(f"{SHOP}/services/web").json()["scale"] == {"web": 3}

        assert admin_a.post("/api/v1/projects", json={"name": "blog"}).status_code == 201
        listed = admin_b.get("/api/v1/projects").json()["items"]
        assert [p["name"] for p in listed] == ["shop", "blog"]

        assert admin_a.delete(f"/api/v1/tokens/{ci['id']}").status_code == 204
        assert ci_b.get("/api/v1/projects").status_code == 401

        assert admin_a.delete(f"{SHOP}/services/web").status_code == 204
        assert bob_b.get(f"{SHOP}/services/web").status_code == 404

        assert admin_a.delete(f"{SHOP}/members/bob@example.com").status_code == 204
        assert bob_b.get(f"{SHOP}/services").status_code == 404


def test_without_redis_each_replica_drops_its_own_cache_when_the_event_arrives(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    with two_replicas(tmp_path, shared) as (a, b):
        admin_a = a.api()
        assert admin_a.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        bob_token = user_token(admin_a, "bob@example.com")
        member = {"email": "bob@example.com", "role": "viewer"}
        assert admin_a.post(f"{SHOP}/members", json=member).status_code == 201
        bob_b = client(b, bob_token)
        time.sleep(1)
        before = cache_hits(b)
        assert warm(lambda: bob_b.get(SHOP)).status_code == 200
        assert cache_hits(b) >= before + 2

        assert admin_a.delete(f"{SHOP}/members/bob@example.com").status_code == 204
        # B's in-process cache learns of it through NATS (the relay, then the broadcast).
        deadline = time.monotonic() + 10
        while bob_b.get(SHOP).status_code != 404:
            assert time.monotonic() < deadline, "replica B kept serving a removed member"
            time.sleep(0.05)
