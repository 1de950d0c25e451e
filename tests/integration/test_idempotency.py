"""Idempotency-Key on POST creates: a repeated key gets the first answer, on any replica.

Runs on SQLite and on PostgreSQL (the database_url fixture does both).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import TOKEN
from tests.integration.conftest import People
from tests.support import client_of

from skyforge.adapters.sql.tables import idempotency_keys
from skyforge.bootstrap import Platform
from skyforge.config import Settings

SERVICE = "/api/v1/projects/shop/services/web"


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> None:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    made = await api.post(
        "/api/v1/projects/shop/services",
        json={"name": "web", "source": {"git": str(static_repo)}},
    )
    assert made.status_code == 201, made.text


@pytest.fixture
async def replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second API process on the same database (no background work of its own)."""
    other = Platform(settings)
    await other.start(background=False)
    try:
        async with client_of(other, TOKEN) as client:
            yield client
    finally:
        await other.stop()


async def test_a_repeated_deploy_request_gets_the_first_answer_and_deploys_once(
    api: httpx.AsyncClient, shop: None, replica: httpx.AsyncClient
) -> None:
    first = await api.post(f"{SERVICE}/deploys", headers=keyed("deploy-1"))
    again = await api.post(f"{SERVICE}/deploys", headers=keyed("deploy-1"))
    elsewhere = await replica.post(f"{SERVICE}/deploys", headers=keyed("deploy-1"))
    other_key = await api.post(f"{SERVICE}/deploys", headers=keyed("deploy-2"))

    assert first.status_code == 202, first.text
    for repeat in (again, elsewhere):
        assert (repeat.status_code, repeat.json()) == (202, first.json())
        assert repeat.headers["location"] == first.headers["location"]
        assert repeat.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert other_key.json()["id"] != first.json()["id"]
    ids = {d["id"] for d in (await api.get(f"{SERVICE}/deploys")).json()["items"]}
    assert ids == {first.json()["id"], other_key.json()["id"]}


async def test_creates_with_a_repeated_key_make_one_thing(
    api: httpx.AsyncClient, shop: None, static_repo: Path
) -> None:
    creates = [
        ("/api/v1/projects", {"name": "blog"}),
        ("/api/v1/projects/shop/services", {"name": "api", "source": {"git": str(static_repo)}}),
        ("/api/v1/projects/shop/webhooks", {"url": "https://h.example.invalid/", "events": ["*"]}),
        (f"{SERVICE}/domains", {"hostname": "shop.example.com"}),
        ("/api/v1/projects/shop/databases", {"name": "main", "engine": "postgres"}),
    ]
    for path, body in creates:
        first = await api.post(path, json=body, headers=keyed(f"k-{path}"))
        again = await api.post(path, json=body, headers=keyed(f"k-{path}"))
        assert again.status_code == first.status_code, (path, again.text)
        assert again.json() == first.json(), path
        assert again.headers["idempotent-replayed"] == "true"
    webhooks = (await api.get("/api/v1/projects/shop/webhooks")).json()["items"]
    projects = (await api.get("/api/v1/projects")).json()["items"]
    assert len(webhooks) == 1
    assert sorted(p["name"] for p in projects) == ["blog", "shop"]


async def test_the_same_key_with_another_request_is_refused(
    api: httpx.AsyncClient, shop: None
) -> None:
    made = await api.post("/api/v1/projects", json={"name": "blog"}, headers=keyed("k"))
    other_body = await api.post("/api/v1/projects", json={"name": "wiki"}, headers=keyed("k"))
    other_path = await api.post(f"{SERVICE}/deploys", headers=keyed("k"))

    assert made.status_code == 201
    for refused in (other_body, other_path):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "used with another request" in refused.json()["detail"]
    names = sorted(p["name"] for p in (await api.get("/api/v1/projects")).json()["items"])
    assert names == ["blog", "shop"]
    assert (await api.get(f"{SERVICE}/deploys")).json()["items"] == []


async def test_a_key_belongs_to_its_caller(
    api: httpx.AsyncClient, shop: None, people: People
) -> None:
    ada = await people.user("ada@example.com", org_role="admin")
    mine = await api.post("/api/v1/projects", json={"name": "blog"}, headers=keyed("same"))
    theirs = await ada.post("/api/v1/projects", json={"name": "blog"}, headers=keyed("same"))

    assert mine.status_code == 201
    assert theirs.status_code == 409, theirs.text  # it ran for ada: the name was taken
    assert "idempotent-replayed" not in theirs.headers


async def test_a_new_tokens_secret_is_replayed_but_kept_only_sealed(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    body = {"name": "ci", "scope": "write"}
    first = await api.post("/api/v1/tokens", json=body, headers=keyed("token-1"))
    again = await api.post("/api/v1/tokens", json=body, headers=keyed("token-1"))

    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    secret = first.json()["token"]
    tokens = (await api.get("/api/v1/tokens")).json()["items"]
    assert [t["name"] for t in tokens].count("ci") == 1
    async with platform.engine.connect() as conn:
        rows = (await conn.execute(select(idempotency_keys))).all()
    stored = repr([tuple(r) for r in rows]).encode()
    assert rows and secret.encode() not in stored and b"token-1" in stored


async def test_two_copies_at_once_run_once(api: httpx.AsyncClient, shop: None) -> None:
    answers = await asyncio.gather(
        *(api.post(f"{SERVICE}/deploys", headers=keyed("burst")) for _ in range(4))
    )

    assert {a.status_code for a in answers} <= {202, 409}, [a.text for a in answers]
    assert len((await api.get(f"{SERVICE}/deploys")).json()["items"]) == 1
    assert all("still running" in a.json()["detail"] for a in answers if a.status_code == 409)


async def test_a_failed_first_attempt_is_replayed_and_a_bad_key_is_refused(
    api: httpx.AsyncClient, shop: None
) -> None:
    missing = "/api/v1/projects/shop/services/nope/deploys"
    first = await api.post(missing, headers=keyed("k404"))
    again = await api.post(missing, headers=keyed("k404"))
    too_long = await api.post(f"{SERVICE}/deploys", headers=keyed("k" * 256))

    assert (first.status_code, again.status_code) == (404, 404)
    assert again.headers["content-type"] == "application/problem+json"
    assert too_long.status_code == 422
    assert "Idempotency-Key" in too_long.json()["detail"]
    assert (await api.get(f"{SERVICE}/deploys")).json()["items"] == []


async def test_kept_answers_survive_master_key_rotations(api: httpx.AsyncClient) -> None:
    first = await api.post("/api/v1/tokens", json={"name": "ci"}, headers=keyed("rot"))

    for _ in range(2):  # the second retires the key the answer was first sealed under
        rotated = await api.post("/api/v1/secrets/rotate-key")
        assert rotated.status_code == 200, rotated.text
    again = await api.post("/api/v1/tokens", json={"name": "ci"}, headers=keyed("rot"))

    assert rotated.json()["retired"]
    assert again.status_code == 201 and again.json() == first.json()
