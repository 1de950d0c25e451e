"""Failed logins without Redis: counted in the database, so a lock outlives a restart and binds
every replica; each failure and each lock is in the organization's audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.conftest import TOKEN
from tests.integration.conftest import PASSWORD, People
from tests.support import client_of

from skyforge.adapters.ratelimit import LockoutPolicy, LoginGuard
from skyforge.adapters.sql.engine import make_engine, migrate
from skyforge.adapters.sql.login_attempts import SqlLoginCounters
from skyforge.adapters.sql.tables import login_attempts
from skyforge.bootstrap import Platform
from skyforge.config import Settings

LOGIN = "/api/v1/auth/login"
WRONG = "not the password at all"


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(Settings(database_url=database_url).db_url)
    await migrate(made, tmp_path)
    try:
        yield made
    finally:
        await made.dispose()


async def test_database_counters_count_forget_block_and_reset(engine: AsyncEngine) -> None:
    counters = SqlLoginCounters(engine)
    assert await counters.count("c") == 0
    assert [await counters.incr("c", ttl=0.3) for _ in range(3)] == [1, 2, 3]
    assert await counters.count("c") == 3
    await asyncio.sleep(0.35)
    assert await counters.count("c") == 0
    assert await counters.incr("c", ttl=10) == 1  # a forgotten counter starts again

    await counters.block("x", 0.3)
    assert 0.1 < await counters.blocked_for("x") <= 0.3
    assert await counters.blocked_for("y") == 0
    await asyncio.sleep(0.35)
    assert await counters.blocked_for("x") == 0

    await counters.incr("x", ttl=10)
    await counters.block("x", 10)
    await counters.reset("x", "c")
    assert (await counters.count("x"), await counters.blocked_for("x")) == (0, 0)
    assert await counters.count("c") == 0


async def test_rows_that_no_longer_count_are_purged(engine: AsyncEngine) -> None:
    counters = SqlLoginCounters(engine, purge_every=0)
    await counters.incr("gone", ttl=0.1)
    await counters.incr("locked", ttl=0.1)
    await counters.block("locked", 30)
    await asyncio.sleep(0.15)
    await counters.incr("fresh", ttl=30)  # a write purges what has expired

    async with engine.connect() as conn:
        keys = set((await conn.execute(select(login_attempts.c.key))).scalars())
    assert keys == {"locked", "fresh"}  # its failures are forgotten, its lock still holds


async def test_two_replicas_on_one_database_count_the_same_failures(
    database_url: str, tmp_path: Path
) -> None:
    url = Settings(database_url=database_url).db_url
    engines = [make_engine(url), make_engine(url)]
    await migrate(engines[0], tmp_path)
    policy = LockoutPolicy(account_failures=4, first_lock=30, max_lock=30)
    guards = [LoginGuard(SqlLoginCounters(e), policy) for e in engines]
    try:
        await asyncio.gather(*(guards[n % 2].failed("alice", f"192.0.2.{n}") for n in range(4)))
        for guard in guards:
            refused = await guard.check("alice", "198.51.100.1")
            assert not refused.allowed and refused.retry_after > 20
        async with engines[1].connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(login_attempts))).one()
        assert rows[0] == 5  # the account and four addresses; no e-mail among the keys
    finally:
        for made in engines:
            await made.dispose()


async def sign_up(admin: httpx.AsyncClient, email: str, org_role: str = "member") -> None:
    invited = await admin.post("/api/v1/invitations", json={"email": email, "org_role": org_role})
    assert invited.status_code == 201, invited.text
    body = {"invitation": invited.json()["token"], "email": email, "password": PASSWORD}
    done = await admin.post("/api/v1/auth/signup", json={**body, "name": "Hank"})
    assert done.status_code == 201, done.text


async def test_a_lockout_outlives_a_restart_of_skyforge(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_lock_seconds": 60.0})
    wrong = {"email": "hank@example.com", "password": WRONG}
    right = {"email": "hank@example.com", "password": PASSWORD}
    before = Platform(settings)
    await before.start()
    try:
        async with client_of(before, TOKEN) as admin:
            await sign_up(admin, "hank@example.com")
            statuses = [(await admin.post(LOGIN, json=wrong)).status_code for _ in range(6)]
        assert statuses == [401] * 5 + [429]
    finally:
        await before.stop()

    after = Platform(settings)
    await after.start()
    try:
        async with client_of(after, TOKEN) as admin:
            locked = await admin.post(LOGIN, json=right)
            other = await admin.post(LOGIN, json={"email": "nobody@example.com", "password": WRONG})
        assert locked.status_code == 429, locked.text
        assert int(locked.headers["retry-after"]) > 30
        assert other.status_code == 401  # other accounts are not locked
    finally:
        await after.stop()


async def test_failed_logins_and_lockouts_are_in_the_organizations_audit_log(
    people: People, platform: Platform
) -> None:
    await people.sign_up("hank@example.com")
    anonymous = people.client()
    wrong = {"email": "Hank@Example.com", "password": WRONG}
    for _ in range(5):
        assert (await anonymous.post(LOGIN, json=wrong)).status_code == 401

    found = await people.admin.get("/api/v1/audit", params={"action": "auth.login_failed"})
    assert found.status_code == 200, found.text
    failures = found.json()["items"]
    assert len(failures) == 5
    assert {(f["actor"], f["via"], f["ip"], f["project"]) for f in failures} == {
        ("hank@example.com", "password", "127.0.0.1", None)
    }
    assert failures[0]["diff"] == {"email": "hank@example.com", "ip": "127.0.0.1"}
    locks = (await people.admin.get("/api/v1/audit", params={"action": "auth.locked_out"})).json()
    assert [(lock["actor"], lock["diff"]["seconds"]) for lock in locks["items"]] == [
        ("hank@example.com", 1)  # login_lock_seconds of the tests
    ]
    everything = await people.admin.get("/api/v1/audit", params={"limit": 200})
    assert WRONG not in everything.text  # never the password
    # Nor in any project's log: these records belong to no project.
    await people.admin.post("/api/v1/projects", json={"name": "shop"})
    project_log = (await people.admin.get("/api/v1/projects/shop/audit")).json()["items"]
    assert not [r for r in project_log if r["action"].startswith("auth.")]


async def test_only_organization_admins_read_the_organizations_audit_log(
    people: People, platform: Platform
) -> None:
    member = await people.user("mia@example.com")
    await member.post("/api/v1/projects", json={"name": "mine"})  # owner of a project of hers
    refused = await member.get("/api/v1/audit")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"

    boss = await people.user("boss@example.com", org_role="admin")
    assert (await boss.get("/api/v1/audit")).status_code == 200
    mine = await boss.get("/api/v1/audit", params={"project": "mine"})
    assert [r["action"] for r in mine.json()["items"]] == ["member.added", "project.created"]
    assert (await people.client().get("/api/v1/audit")).status_code == 401
