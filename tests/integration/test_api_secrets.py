"""Secrets through the REST API: versions, scopes, roles, audit and hostile input.

Runs on SQLite and on PostgreSQL (the database_url fixture does both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.integration.conftest import People

P = "/api/v1/projects/shop"
SECRETS = f"{P}/secrets"


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> httpx.AsyncClient:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    for name in ("web", "api"):
        created = await api.post(
            f"{P}/services", json={"name": name, "source": {"git": str(static_repo)}}
        )
        assert created.status_code == 201, created.text
    return api


async def put(api: httpx.AsyncClient, name: str, value: str, **extra: Any) -> httpx.Response:
    return await api.put(f"{SECRETS}/{quote(name, safe='')}", json={"value": value, **extra})


async def test_a_secret_is_set_listed_revealed_versioned_and_deleted(
    shop: httpx.AsyncClient,
) -> None:
    first = await put(shop, "API_KEY", "first-value-1111")
    second = await put(shop, "API_KEY", "second-value-2222")
    same = await put(shop, "API_KEY", "second-value-2222")
    listed = await shop.get(SECRETS)

    assert first.status_code == 201, first.text
    assert (second.status_code, second.json()["version"]) == (200, 2)
    assert (same.status_code, same.json()["version"]) == (200, 2)  # PUT is idempotent
    items = listed.json()["items"]
    assert [(s["name"], s["service"], s["version"], s["versions"]) for s in items] == [
        ("API_KEY", None, 2, 2)
    ]
    assert "value" not in listed.text and "first-value" not in listed.text
    assert "second-value" not in (await shop.get(f"{SECRETS}/API_KEY")).text
    current = (await shop.get(f"{SECRETS}/API_KEY/value")).json()
    assert (current["version"], current["value"]) == (2, "second-value-2222")
    old = (await shop.get(f"{SECRETS}/API_KEY/value", params={"version": 1})).json()
    assert old["value"] == "first-value-1111"
    versions = (await shop.get(f"{SECRETS}/API_KEY/versions")).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert all(v["key_id"].startswith("mk-") for v in versions)

    assert (await shop.delete(f"{SECRETS}/API_KEY")).status_code == 204
    assert (await shop.get(f"{SECRETS}/API_KEY/value")).status_code == 404
    assert (await shop.get(SECRETS)).json()["items"] == []
    again = await put(shop, "API_KEY", "third-value-3333")
    assert (again.status_code, again.json()["version"], again.json()["versions"]) == (201, 3, 1)
    gone = await shop.get(f"{SECRETS}/API_KEY/value", params={"version": 2})
    assert gone.status_code == 404  # deleting destroyed the old versions


async def test_a_secret_scoped_to_a_service_keeps_its_scope(shop: httpx.AsyncClient) -> None:
    assert (await put(shop, "DB_URL", "postgres://one", service="web")).status_code == 201
    moved = await put(shop, "DB_URL", "postgres://two")
    web = (await shop.get(SECRETS, params={"service": "web"})).json()["items"]
    api = (await shop.get(SECRETS, params={"service": "api"})).json()["items"]

    assert moved.status_code == 409
    assert moved.headers["content-type"] == "application/problem+json"
    assert [(s["name"], s["service"]) for s in web] == [("DB_URL", "web")]
    assert api == []


async def test_a_viewer_sees_names_but_not_values_and_a_developer_read_is_audited(
    people: People, static_repo: Path
) -> None:
    await people.admin.post("/api/v1/projects", json={"name": "shop"})
    assert (await put(people.admin, "API_KEY", "audited-value-9999")).status_code == 201
    viewer = await people.user("viewer@example.com")
    developer = await people.user("dev@example.com")
    for email, role in (("viewer@example.com", "viewer"), ("dev@example.com", "developer")):
        added = await people.admin.post(f"{P}/members", json={"email": email, "role": role})
        assert added.status_code == 201

    assert (await viewer.get(SECRETS)).status_code == 200
    refused = await viewer.get(f"{SECRETS}/API_KEY/value")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await put(viewer, "API_KEY", "viewer-tries")).status_code == 403
    revealed = await developer.get(f"{SECRETS}/API_KEY/value")
    assert revealed.json()["value"] == "audited-value-9999"

    audit = await people.admin.get(f"{P}/audit", params={"action": "secret.revealed"})
    entries = audit.json()["items"]
    assert [(e["actor"], e["target"]) for e in entries] == [("dev@example.com", "shop/API_KEY")]
    assert entries[0]["diff"] == {
        "project": "shop",
        "name": "API_KEY",
        "service": None,
        "version": 1,
    }
    everything = (await people.admin.get(f"{P}/audit", params={"limit": 200})).text
    assert "secret.changed" in everything
    assert "audited-value-9999" not in everything and "viewer-tries" not in everything


HOSTILE_NAMES = ["A=B", "A\nB", "A B", "X" * 300, "1BAD", "PORT", "SKYFORGE_TOKEN", "ÄBC", "A-B"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_a_hostile_name_is_refused_and_changes_nothing(
    shop: httpx.AsyncClient, name: str
) -> None:
    await put(shop, "KEEP", "kept-value")
    response = await put(shop, name, "value")

    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [s["name"] for s in (await shop.get(SECRETS)).json()["items"]] == ["KEEP"]


@pytest.mark.parametrize(
    "body",
    [
        {"value": "a\x00b"},
        {"value": "x" * (64 * 1024 + 1)},
        {"value": "é" * (32 * 1024 + 1)},  # under 64 Ki characters, over 64 KiB
        {"value": ""},
        {"value": 12345},
        {"value": None},
        {},
        {"value": "ok", "service": "no-such-service"},
        {"value": "ok", "service": 1},
        {"value": "ok", "extra": "field"},
    ],
)
async def test_a_hostile_value_or_body_is_refused_and_changes_nothing(
    shop: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    await put(shop, "KEEP", "kept-value")
    response = await shop.put(f"{SECRETS}/KEEP", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    kept = (await shop.get(f"{SECRETS}/KEEP/value")).json()
    assert (kept["version"], kept["value"]) == (1, "kept-value")


async def test_the_biggest_value_allowed_is_kept_whole(shop: httpx.AsyncClient) -> None:
    value = "v" * (64 * 1024)
    assert (await put(shop, "BIG", value)).status_code == 201
    assert (await shop.get(f"{SECRETS}/BIG/value")).json()["value"] == value


async def test_another_projects_secret_is_out_of_reach(people: People, static_repo: Path) -> None:
    for project in ("shop", "other"):
        await people.admin.post("/api/v1/projects", json={"name": project})
    await people.admin.put("/api/v1/projects/other/secrets/THEIRS", json={"value": "theirs-1234"})
    dev = await people.user("dev@example.com")
    await people.admin.post(f"{P}/members", json={"email": "dev@example.com", "role": "developer"})

    assert (await dev.get(f"{SECRETS}/THEIRS/value")).status_code == 404
    assert (await dev.get("/api/v1/projects/other/secrets/THEIRS/value")).status_code == 404
    assert (await dev.get("/api/v1/projects/other/secrets")).status_code == 404
    assert (await dev.delete("/api/v1/projects/other/secrets/THEIRS")).status_code == 404
    assert (await put(dev, "THEIRS", "mine", service="web")).status_code in (404, 422)
    still = await people.admin.get("/api/v1/projects/other/secrets/THEIRS/value")
    assert still.json()["value"] == "theirs-1234"
