"""Managed databases through the API, on the real PostgreSQL and Redis servers.

Every server-side database, role and ACL user a test makes is removed afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select
from tests.conftest import POSTGRES

from skyforge.adapters.dbprovision import LocalBackupStore, PostgresProvisioner, RedisProvisioner
from skyforge.adapters.dbprovision.servers import EngineServers
from skyforge.adapters.sql.tables import databases
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.runtimes.null import NullRuntime

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with the real servers registered."""
    return settings.model_copy(
        update={
            "postgres_admin_url": SecretStr(POSTGRES),
            "redis_admin_url": SecretStr(REDIS),
            "backup_interval_hours": 24.0,
        }
    )


@pytest.fixture
async def project(api: httpx.AsyncClient, static_repo: Path) -> AsyncIterator[str]:
    """A project of a unique name with services web and api; its server objects are dropped."""
    name = f"db{uuid.uuid4().hex[:10]}"
    assert (await api.post("/api/v1/projects", json={"name": name})).status_code == 201
    for service in ("web", "api"):
        body = {"name": service, "source": {"git": str(static_repo)}}
        assert (await api.post(f"/api/v1/projects/{name}/services", json=body)).status_code == 201
    try:
        yield name
    finally:
        await drop_server_objects(f"sf_{name}_")


async def drop_server_objects(prefix: str) -> None:
    admin = await asyncpg.connect(POSTGRES)
    try:
        rows = await admin.fetch(
            "SELECT datname AS n FROM pg_database WHERE starts_with(datname, $1) "
            "UNION SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)",
            prefix,
        )
    finally:
        await admin.close()
    for row in rows:
        await PostgresProvisioner(POSTGRES).delete(row["n"])
    redis = Redis.from_url(REDIS)
    try:
        users = [u if isinstance(u, str) else u.decode() for u in await redis.acl_users()]
    finally:
        await redis.aclose()
    for user in users:
        if user.startswith(prefix):
            await RedisProvisioner(REDIS).delete(user)


def path(project: str, rest: str = "") -> str:
    return f"/api/v1/projects/{project}/databases{rest}"


async def ready(api: httpx.AsyncClient, project: str, name: str) -> dict[str, Any]:
    for _ in range(300):
        found: dict[str, Any] = (await api.get(path(project, f"/{name}"))).json()
        if found["status"] != "pending":
            assert found["status"] == "ready", found
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"database {name} was not provisioned")


async def create(api: httpx.AsyncClient, project: str, name: str, engine: str) -> dict[str, Any]:
    made = await api.post(path(project), json={"name": name, "engine": engine})
    assert made.status_code == 202, made.text
    assert made.json()["status"] == "pending"
    return await ready(api, project, name)


async def attach(api: httpx.AsyncClient, project: str, name: str, **body: str) -> str:
    """Attach and return the URL the service got (read back as the secret it is)."""
    done = await api.post(path(project, f"/{name}/attachments"), json=body)
    assert done.status_code == 201, done.text
    var = done.json()["as"]
    url: str = (await api.get(f"/api/v1/projects/{project}/secrets/{var}/value")).json()["value"]
    return url


async def wait_release(api: httpx.AsyncClient, project: str, release: int) -> None:
    for _ in range(300):
        items = (await api.get(f"/api/v1/projects/{project}/services/web/deploys")).json()["items"]
        if items and items[0]["status"] == "succeeded" and items[0]["release"] == release:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"release {release} was not rolled out")


async def rows(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["label"] for r in await conn.fetch("SELECT label FROM items ORDER BY id")]
    finally:
        await conn.close()


async def write(url: str, *labels: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, label text)")
        await conn.executemany("INSERT INTO items (label) VALUES ($1)", [(x,) for x in labels])
    finally:
        await conn.close()


async def test_an_attached_postgres_database_reaches_the_rolled_out_app_and_works(
    api: httpx.AsyncClient, project: str, platform: Platform
) -> None:
    deployed = await api.post(f"/api/v1/projects/{project}/services/web/deploys")
    assert deployed.status_code == 202
    await wait_release(api, project, 1)

    found = await create(api, project, "main", "postgres")
    url = await attach(api, project, "main", service="web")
    await wait_release(api, project, 2)

    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    env = [app for app in runtime.rollouts if app.key == f"{project}.web"][-1].env
    assert env["DATABASE_URL"] == url
    await write(env["DATABASE_URL"], "a", "b")
    assert await rows(url) == ["a", "b"]
    assert found["resource"] == f"sf_{project}_main"
    shown = (await api.get(path(project, "/main"))).json()
    assert shown["attachments"][0]["service"] == "web"
    password = url.split(":")[2].split("@")[0]
    assert password not in (await api.get(path(project))).text + str(shown)
    async with platform.uow() as uow:
        sealed = (await uow.databases.conn.execute(select(databases.c.sealed))).scalar_one()
    assert password.encode() not in sealed and url.encode() not in sealed

    assert (await api.delete(path(project, "/main/attachments/web"))).status_code == 204
    await wait_release(api, project, 3)
    env = [app for app in runtime.rollouts if app.key == f"{project}.web"][-1].env
    assert "DATABASE_URL" not in env


async def test_a_backup_restores_into_a_new_database_and_a_delete_keeps_the_backups(
    api: httpx.AsyncClient, project: str, platform: Platform
) -> None:
    await create(api, project, "main", "postgres")
    await write(await attach(api, project, "main", service="web"), "kept")

    assert await platform.databases.queue_due_backups() == 1  # the schedule: never backed up
    for _ in range(300):
        listed = (await api.get(path(project, "/main/backups"))).json()["items"]
        if listed:
            break
        await asyncio.sleep(0.1)
    taken = await api.post(path(project, "/main/backups"))
    assert taken.status_code == 201, taken.text
    backup = taken.json()
    assert backup["size"] > 0 and len(backup["sha256"]) == 64
    assert await platform.databases.queue_due_backups() == 0
    assert len((await api.get(path(project, "/main/backups"))).json()["items"]) == 2

    body = {"backup": backup["id"], "into": "copy"}
    restored = await api.post(path(project, "/main/restore"), json=body)
    assert restored.status_code == 202, restored.text
    await ready(api, project, "copy")
    copy_url = await attach(api, project, "copy", service="api", **{"as": "COPY_URL"})
    assert await rows(copy_url) == ["kept"]

    for refused in ({}, {"confirm": "other"}):
        answer = await api.request("DELETE", path(project, "/main"), json=refused)
        assert answer.status_code == 422
    assert (await api.get(path(project, "/main"))).status_code == 200
    done = await api.request("DELETE", path(project, "/main"), json={"confirm": "main"})
    assert done.status_code == 204, done.text

    assert (await api.get(path(project, "/main"))).status_code == 404
    assert (await api.get(f"/api/v1/projects/{project}/secrets/DATABASE_URL")).status_code == 404
    assert len(await platform.databases.deps.servers.backups(f"sf_{project}_main")) == 3
    admin = await asyncpg.connect(POSTGRES)
    try:
        gone = await admin.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname = $1", f"sf_{project}_main"
        )
    finally:
        await admin.close()
    assert gone == 0


async def test_rotating_gives_new_credentials_to_attached_services_and_keeps_the_data(
    api: httpx.AsyncClient, project: str
) -> None:
    await create(api, project, "main", "postgres")
    old = await attach(api, project, "main", service="web")
    await write(old, "before")

    rotated = await api.post(path(project, "/main/rotate"))
    assert rotated.status_code == 200, rotated.text

    new = (await api.get(f"/api/v1/projects/{project}/secrets/DATABASE_URL/value")).json()
    assert new["value"] != old and new["version"] == 2
    assert await rows(new["value"]) == ["before"]


async def test_a_redis_database_is_an_acl_user_limited_to_its_key_prefix(
    api: httpx.AsyncClient, project: str
) -> None:
    found = await create(api, project, "cache", "redis")
    url = await attach(api, project, "cache", service="web")

    redis = Redis.from_url(url)
    try:
        await redis.set(found["key_prefix"] + "hits", "1")
        assert await redis.get(found["key_prefix"] + "hits") == b"1"
    finally:
        await redis.aclose()
    assert (await api.post(path(project, "/cache/backups"))).status_code == 422
    done = await api.request("DELETE", path(project, "/cache"), json={"confirm": "cache"})
    assert done.status_code == 204


async def test_hostile_names_and_conflicting_attachments_are_refused_and_change_nothing(
    api: httpx.AsyncClient, project: str
) -> None:
    hostile = ["x; DROP DATABASE test", "ünï", "A", "-a", "a" * 64, "a_b", "", "a'--"]
    for name in hostile:
        answer = await api.post(path(project), json={"name": name, "engine": "postgres"})
        assert answer.status_code == 422, name
    assert (await api.post(path(project), json={"name": "m", "engine": "mysql"})).status_code == 422
    assert (await api.get(path(project))).json()["items"] == []

    await create(api, project, "main", "postgres")
    await attach(api, project, "main", service="web")
    bad = {"service": "api", "as": "BAD NAME"}
    assert (await api.post(path(project, "/main/attachments"), json=bad)).status_code == 422
    taken = await api.post(path(project, "/main/attachments"), json={"service": "api"})
    assert taken.status_code == 409 and "as" in taken.json()["detail"]
    nobody = await api.post(path(project, "/main/attachments"), json={"service": "nope"})
    assert nobody.status_code == 422
    twice = await api.post(path(project), json={"name": "main", "engine": "postgres"})
    assert twice.status_code == 409
    assert [a["service"] for a in (await ready(api, project, "main"))["attachments"]] == ["web"]


async def test_without_a_registered_server_creating_is_refused(
    api: httpx.AsyncClient, project: str, platform: Platform, tmp_path: Path
) -> None:
    platform.databases.use(EngineServers({}, None, LocalBackupStore(tmp_path), tmp_path))

    answer = await api.post(path(project), json={"name": "main", "engine": "postgres"})

    assert answer.status_code == 409
    assert "no PostgreSQL server is registered" in answer.json()["detail"]
    assert (await api.get(path(project))).json()["items"] == []


async def test_master_key_rotations_keep_the_stored_credentials_readable(
    api: httpx.AsyncClient, project: str
) -> None:
    await create(api, project, "main", "postgres")
    before = await attach(api, project, "main", service="web")

    for _ in range(2):  # the second one retires the first key, unless the URL still needs it
        rotated = await api.post("/api/v1/secrets/rotate-key")
        assert rotated.status_code == 200, rotated.text

    again = await attach(api, project, "main", service="api", **{"as": "SECOND_URL"})
    assert again == before
    await write(again, "still here")
