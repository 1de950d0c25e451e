"""Projects through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

PROBLEM = "application/problem+json"


async def test_a_project_is_created_listed_and_deleted(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/projects", json={"name": "shop"})
    assert created.status_code == 201
    assert created.json()["name"] == "shop"
    assert created.json()["environments"] == ["production"]

    listed = (await api.get("/api/v1/projects")).json()
    assert [p["name"] for p in listed["items"]] == ["shop"]
    assert listed["next_cursor"] is None

    assert (await api.delete("/api/v1/projects/shop")).status_code == 204
    missing = await api.get("/api/v1/projects/shop")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "name", ["Shop", "-shop", "shop-", "sh_op", "a" * 64, "", "shop.x", "../etc", "shöp"]
)
async def test_a_project_name_that_is_not_a_dns_label_is_refused(
    api: httpx.AsyncClient, name: str
) -> None:
    response = await api.post("/api/v1/projects", json={"name": name})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 422
    assert (await api.get("/api/v1/projects")).json()["items"] == []


async def test_a_duplicate_project_is_a_conflict(api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/projects", json={"name": "shop"})
    again = await api.post("/api/v1/projects", json={"name": "shop"})
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


@pytest.mark.parametrize(
    "body", [None, [], {"name": 5}, {"nom": "x"}, {"name": "x", "extra": 1}, "not json"]
)
async def test_malformed_bodies_get_a_problem_not_a_crash(
    api: httpx.AsyncClient, body: object
) -> None:
    if isinstance(body, str):
        response = await api.post(
            "/api/v1/projects", content=body, headers={"content-type": "application/json"}
        )
    else:
        response = await api.post("/api/v1/projects", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert (await api.get("/healthz")).status_code == 200


async def test_pages_follow_the_cursor_until_the_end(api: httpx.AsyncClient) -> None:
    names = [f"p{i}" for i in range(7)]
    for name in names:
        await api.post("/api/v1/projects", json={"name": name})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/api/v1/projects", params=params)).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == names
    bad = await api.get("/api/v1/projects", params={"cursor": "!!!"})
    assert bad.status_code == 422


async def test_every_api_call_needs_a_valid_bearer_token(api: httpx.AsyncClient) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dGVzdA=="},
    ):
        response = await api.get("/api/v1/projects", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
    refused = await api.post(
        "/api/v1/projects", json={"name": "x"}, headers={"Authorization": "Bearer wrong"}
    )
    assert refused.status_code == 401
    assert (await api.get("/api/v1/projects")).json()["items"] == []


async def test_health_readiness_metrics_and_openapi_are_served(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    assert (await api.get("/readyz")).json()["database"] == "ok"
    await api.get("/api/v1/projects")
    metrics = (await api.get("/metrics")).text
    assert 'route="/api/v1/projects"' in metrics
    spec = (await api.get("/openapi.json")).json()
    assert "/api/v1/projects/{project}/services/{service}/deploys" in spec["paths"]


async def test_the_portal_front_page_says_how_to_start(api: httpx.AsyncClient) -> None:
    page = await api.get("/", headers={"Authorization": ""})
    assert page.status_code == 200
    assert "skyforge login --url http://skyforge.test" in page.text
    assert page.headers["x-frame-options"] == "DENY"
