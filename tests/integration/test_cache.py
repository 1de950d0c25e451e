"""The cache of hot reads: both adapters on their own (Redis the real one), then through the API,
where every change must be visible on the very next read although that read was cached."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from tests.integration.conftest import People
from tests.support import all_published, eventually, free_port, make_git_repo

from skyforge.adapters.cache import MemoryCache, RedisCache
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.kernel.cache import Cache

REDIS = "redis://127.0.0.1:6379/0"


async def _drop(prefix: str) -> None:
    client = redis.from_url(REDIS)
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"skyforge-test-{uuid.uuid4().hex}:"
    yield name
    await _drop(name)


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Cache]:
    made: Cache = MemoryCache() if request.param == "memory" else RedisCache(REDIS, prefix)
    yield made
    await made.aclose()


# -- the adapters ------------------------------------------------------------------------------


async def test_a_value_put_after_a_miss_is_a_hit_until_one_of_its_tags_is_invalidated(
    cache: Cache,
) -> None:
    first = await cache.get("service:shop:web", ["s:shop", "users"])
    assert not first.hit and first.stamp is not None
    await cache.put("service:shop:web", {"id": "1", "scale": {"web": 2}}, first.stamp, 60)
    again = await cache.get("service:shop:web", ["s:shop", "users"])
    assert again.hit and again.value == {"id": "1", "scale": {"web": 2}}
    await cache.invalidate(["s:other"])  # another project's services: untouched
    assert (await cache.get("service:shop:web", ["s:shop", "users"])).hit
    await cache.invalidate(["users"])
    assert not (await cache.get("service:shop:web", ["s:shop", "users"])).hit


async def test_a_value_read_before_an_invalidation_is_never_served_after_it(cache: Cache) -> None:
    # The race: a reader misses, reads the old row; the change commits and invalidates; only
    # then does the reader store what it read.
    before = await cache.get("project:shop", ["p:shop"])
    await cache.invalidate(["p:shop"])
    assert before.stamp is not None
    await cache.put("project:shop", {"old": True}, before.stamp, 60)
    after = await cache.get("project:shop", ["p:shop"])
    assert not after.hit
    assert after.stamp is not None
    await cache.put("project:shop", {"old": False}, after.stamp, 60)
    assert (await cache.get("project:shop", ["p:shop"])).value == {"old": False}


async def test_none_is_a_value_and_entries_expire(cache: Cache) -> None:
    found = await cache.get("service:shop:gone", ["s:shop"])
    assert found.stamp is not None
    await cache.put("service:shop:gone", None, found.stamp, 0.2)
    hit = await cache.get("service:shop:gone", ["s:shop"])
    assert hit.hit and hit.value is None
    await asyncio.sleep(0.3)
    assert not (await cache.get("service:shop:gone", ["s:shop"])).hit


async def test_the_memory_cache_keeps_the_most_recently_used_entries() -> None:
    cache = MemoryCache(max_entries=2)
    for key in ("a", "b"):
        found = await cache.get(key, [])
        assert found.stamp is not None
        await cache.put(key, key, found.stamp, 60)
    assert (await cache.get("a", [])).hit  # a is now the most recent
    found = await cache.get("c", [])
    assert found.stamp is not None
    await cache.put("c", "c", found.stamp, 60)
    assert len(cache) == 2
    assert (await cache.get("a", [])).hit and (await cache.get("c", [])).hit
    assert not (await cache.get("b", [])).hit


async def test_forgetting_every_tag_never_revives_an_old_stamp() -> None:
    cache = MemoryCache(max_tags=2)
    stale = await cache.get("k", ["t1"])
    await cache.invalidate(["t1", "t2", "t3"])  # over the bound: everything is forgotten
    assert stale.stamp is not None
    await cache.put("k", "old", stale.stamp, 60)
    assert not (await cache.get("k", ["t1"])).hit


async def test_two_redis_caches_on_one_prefix_are_one_cache(prefix: str) -> None:
    a, b = RedisCache(REDIS, prefix), RedisCache(REDIS, prefix)
    try:
        found = await b.get("role:shop:u1", ["p:shop"])
        assert found.stamp is not None
        await b.put("role:shop:u1", ["p1", "developer"], found.stamp, 60)
        assert (await a.get("role:shop:u1", ["p:shop"])).value == ["p1", "developer"]
        await a.invalidate(["p:shop"])  # replica A changed it: B must not serve it
        assert not (await b.get("role:shop:u1", ["p:shop"])).hit
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_lost_generation_key_never_brings_an_old_entry_back(prefix: str) -> None:
    cache = RedisCache(REDIS, prefix)
    client = redis.from_url(REDIS)
    try:
        found = await cache.get("project:shop", ["p:shop"])
        assert found.stamp is not None
        await cache.put("project:shop", "old", found.stamp, 60)
        await client.delete(f"{prefix}g:p:shop")  # evicted, or expired
        assert not (await cache.get("project:shop", ["p:shop"])).hit
    finally:
        await client.aclose()
        await cache.aclose()


class RedisServer:
    """A Redis of this test's own, to take away and bring back."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.folder),
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                client = redis.from_url(self.url)
                await client.ping()
                await client.aclose()
                return
            except redis.ConnectionError:
                await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await self.proc.wait()
            self.proc = None


async def test_without_redis_reads_go_to_the_database_and_missed_invalidations_follow(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path)
    await server.start()
    replica = RedisCache(server.url, "t:", outage_pause=0.0)
    other = RedisCache(server.url, "t:", outage_pause=0.0)
    try:
        found = await other.get("project:shop", ["p:shop"])
        assert found.stamp is not None
        await other.put("project:shop", "v1", found.stamp, 60)
        await server.stop()
        down = await replica.get("project:shop", ["p:shop"])
        assert not down.hit and down.stamp is None  # a miss, and nothing to store it under
        await replica.invalidate(["p:shop"])  # lost for now: kept to send later
        await server.start()  # (empty again; a Redis that kept its data is the real case)
        await other.put("project:shop", "v1", found.stamp, 60)
        await replica.get("anything", [])  # the first call that reaches Redis sends it
        assert not (await other.get("project:shop", ["p:shop"])).hit
    finally:
        await replica.aclose()
        await other.aclose()
        await server.stop()


# -- through the API ---------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def settings(request: pytest.FixtureRequest, settings: Settings, prefix: str) -> Settings:
    if request.param == "memory":
        return settings
    return settings.model_copy(update={"redis_url": REDIS, "redis_prefix": prefix})


async def settled(platform: Platform) -> None:
    """Every event so far has reached the feed (whose broadcast invalidates once more)."""
    await eventually(lambda: all_published(platform), timeout=10)


async def hits(api: httpx.AsyncClient, family: str) -> float:
    text = (await api.get("/metrics")).text
    found = re.search(rf'^skyforge_cache_hits_total\{{family="{family}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def shared_project(people: People, name: str, email: str, role: str) -> None:
    assert (await people.admin.post("/api/v1/projects", json={"name": name})).status_code == 201
    added = await people.admin.post(
        f"/api/v1/projects/{name}/members", json={"email": email, "role": role}
    )
    assert added.status_code == 201, added.text


async def test_a_removed_member_is_refused_on_the_next_request(
    people: People, platform: Platform
) -> None:
    bob = await people.user("bob@example.com")
    await shared_project(people, "shop", "bob@example.com", "developer")
    await settled(platform)
    before = await hits(people.admin, "role")
    for _ in range(3):
        assert (await bob.get("/api/v1/projects/shop/services")).status_code == 200
    assert await hits(people.admin, "role") >= before + 2  # answered from the cache
    removed = await people.admin.delete("/api/v1/projects/shop/members/bob@example.com")
    assert removed.status_code == 204
    assert (await bob.get("/api/v1/projects/shop/services")).status_code == 404


async def test_a_demoted_member_is_forbidden_on_the_next_request(people: People) -> None:
    bob = await people.user("bob@example.com")
    await shared_project(people, "shop", "bob@example.com", "developer")
    for _ in range(2):
        assert (await bob.get("/api/v1/projects/shop")).status_code == 200
    changed = await people.admin.patch(
        "/api/v1/projects/shop/members/bob@example.com", json={"role": "viewer"}
    )
    assert changed.status_code == 200, changed.text
    created = await bob.post(
        "/api/v1/projects/shop/services", json={"name": "web", "source": {"git": "/nowhere"}}
    )
    assert created.status_code == 403


async def test_a_revoked_token_is_refused_on_the_next_request(
    people: People, platform: Platform
) -> None:
    made = (await people.admin.post("/api/v1/tokens", json={"name": "ci", "scope": "read"})).json()
    await settled(platform)
    ci = people.client(made["token"])
    before = await hits(people.admin, "auth")
    for _ in range(3):
        assert (await ci.get("/api/v1/projects")).status_code == 200
    assert await hits(people.admin, "auth") >= before + 2
    assert (await people.admin.delete(f"/api/v1/tokens/{made['id']}")).status_code == 204
    assert (await ci.get("/api/v1/projects")).status_code == 401


async def test_a_logout_ends_the_sessions_access_token_on_the_next_request(
    people: People,
) -> None:
    await people.sign_up("carol@example.com")
    session = await people.login("carol@example.com")
    carol = people.client(session["access_token"])
    for _ in range(2):
        assert (await carol.get("/api/v1/me")).status_code == 200
    ended = await people.client().post(
        "/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]}
    )
    assert ended.status_code == 204
    assert (await carol.get("/api/v1/me")).status_code == 401


async def test_the_project_list_follows_creations_memberships_and_deletions(
    people: People,
) -> None:
    bob = await people.user("bob@example.com")

    async def names() -> list[str]:
        return [p["name"] for p in (await bob.get("/api/v1/projects")).json()["items"]]

    assert await names() == [] and await names() == []
    assert (await bob.post("/api/v1/projects", json={"name": "mine"})).status_code == 201
    assert await names() == ["mine"]
    await shared_project(people, "theirs", "bob@example.com", "viewer")
    assert await names() == ["mine", "theirs"]
    assert (await people.admin.delete("/api/v1/projects/theirs")).status_code == 204
    assert await names() == ["mine"]
    # The organization admin's list is cached as well, and follows too.
    listed = await people.admin.get("/api/v1/projects")
    assert [p["name"] for p in listed.json()["items"]] == ["mine"]
    assert (await people.admin.post("/api/v1/projects", json={"name": "third"})).status_code == 201
    listed = await people.admin.get("/api/v1/projects")
    assert [p["name"] for p in listed.json()["items"]] == ["mine", "third"]


async def test_service_changes_are_seen_on_the_next_read(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    web = "/api/v1/projects/shop/services/web"
    assert (await api.get(web)).status_code == 404  # "no such service" is cached too
    created = await api.post(
        "/api/v1/projects/shop/services", json={"name": "web", "source": {"git": "/srv/shop"}}
    )
    assert created.status_code == 201, created.text
    for _ in range(2):
        assert (await api.get(web)).json()["scale"] == {}
    assert (await api.patch(web, json={"scale": {"web": 3}})).status_code == 200
    assert (await api.get(web)).json()["scale"] == {"web": 3}
    assert (await api.delete(web)).status_code == 204
    assert (await api.get(web)).status_code == 404
    assert (await api.get(f"{web}/deploys")).status_code == 404


async def test_a_deleted_project_is_gone_on_the_next_read(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    for _ in range(2):
        assert (await api.get("/api/v1/projects/shop")).status_code == 200
    assert (await api.delete("/api/v1/projects/shop")).status_code == 204
    assert (await api.get("/api/v1/projects/shop")).status_code == 404
    recreated = await api.post("/api/v1/projects", json={"name": "shop"})
    assert (await api.get("/api/v1/projects/shop")).json()["id"] == recreated.json()["id"]


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_no_token_and_no_config_value_ever_reaches_redis(
    people: People, settings: Settings, tmp_path: Path
) -> None:
    made = (await people.admin.post("/api/v1/tokens", json={"name": "ci"})).json()
    ci = people.client(made["token"])
    repo = make_git_repo(tmp_path / "repo", {"index.html": "hi"})
    assert (await ci.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    web = "/api/v1/projects/shop/services/web"
    created = await ci.post(
        "/api/v1/projects/shop/services", json={"name": "web", "source": {"git": str(repo)}}
    )
    assert created.status_code == 201
    private = {"git": "https://ci:tok-hunter3@93.184.215.14/shop.git"}  # a public address
    api = await ci.post("/api/v1/projects/shop/services", json={"name": "api", "source": private})
    assert api.status_code == 201, api.text
    assert (await ci.get("/api/v1/projects/shop/services/api")).status_code == 200
    patched = await ci.patch(f"{web}/env", json={"DATABASE_URL": "postgres://u:hunter2@db/x"})
    assert patched.status_code == 200
    for _ in range(2):
        assert (await ci.get(web)).status_code == 200
        assert (await ci.get("/api/v1/projects")).status_code == 200
    client = redis.from_url(REDIS)
    try:
        stored = b""
        async for key in client.scan_iter(match=f"{settings.redis_prefix}*"):
            if await client.type(key) == b"hash":  # rate limits
                values = list((await client.hgetall(key)).items())
                stored += key + b"\n" + repr(values).encode() + b"\n"
            else:
                stored += key + b"\n" + ((await client.get(key)) or b"") + b"\n"
    finally:
        await client.aclose()
    assert b"service:shop:web" in stored  # the service is cached, and so is the caller
    assert b"service:shop:api" in stored
    secret = made["token"].encode()
    hashed = hashlib.sha256(secret).hexdigest().encode()
    for forbidden in (secret, hashed, b"hunter2", b"tok-hunter3"):
        assert forbidden not in stored


async def test_a_service_found_by_id_is_that_service_or_none(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    body = {"name": "web", "source": {"git": "/srv/shop"}}
    first = (await api.post("/api/v1/projects/shop/services", json=body)).json()["id"]
    for _ in range(2):
        found = await platform.cache.service_by_id(first)
        assert found is not None and (found.project, found.name) == ("shop", "web")
        assert found.config == {}  # config vars are never cached
    assert (await api.delete("/api/v1/projects/shop/services/web")).status_code == 204
    assert await platform.cache.service_by_id(first) is None
    again = (await api.post("/api/v1/projects/shop/services", json=body)).json()["id"]
    assert await platform.cache.service_by_id(first) is None  # same name, another service
    found = await platform.cache.service_by_id(again)
    assert found is not None and found.id == again
    assert await platform.cache.service_by_id("no-such-id") is None


async def test_names_no_project_can_have_are_not_found_and_not_cached(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    for name in ("Shop", "a" * 300, "shop:web"):
        assert (await api.get(f"/api/v1/projects/{name}")).status_code == 404
        assert (await api.get(f"/api/v1/projects/{name}/services/web")).status_code == 404
    misses = platform.cache.stats.misses
    assert misses.get("role", 0) == misses.get("project", 0) == misses.get("service", 0) == 0
