"""Hostile input is refused at the door with a problem (4xx), never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

SERVICE = "/api/v1/projects/shop/services/web"


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> None:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    made = await api.post(
        "/api/v1/projects/shop/services",
        json={"name": "web", "source": {"git": str(static_repo)}},
    )
    assert made.status_code == 201, made.text


def _problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail: str = response.json()["detail"]
    return detail


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json", None])
async def test_a_json_body_nested_100000_deep_is_a_422_on_every_route(
    api: httpx.AsyncClient, shop: None, content_type: str | None
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    headers = {"Content-Type": content_type} if content_type else {}
    calls = [
        ("POST", "/api/v1/projects", b'{"name": ' + deep + b"}"),
        ("PATCH", f"{SERVICE}/env", b'{"A": ' + deep + b"}"),
        ("PATCH", SERVICE, b'{"scale": ' + deep + b"}"),
        ("POST", "/api/v1/projects/shop/webhooks", deep),
        ("PUT", "/api/v1/projects/shop/secrets/TOKEN", b'{"value": ' + deep + b"}"),
    ]
    for method, path, body in calls:
        response = await api.request(method, path, content=body, headers=headers)
        assert "nested deeper than 64 levels" in _problem(response, 422), path


async def test_brackets_inside_strings_do_not_count_as_nesting(
    api: httpx.AsyncClient, shop: None
) -> None:
    value = '[{"\\"' * 2000 + "\\\\"

    changed = await api.patch(f"{SERVICE}/env", json={"TRICKY": value})

    assert changed.status_code == 200, changed.text
    assert (await api.get(f"{SERVICE}/env")).json() == {"TRICKY": value}
