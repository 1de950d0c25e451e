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


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("xn--80ak6aa92e", "letters that look Latin"),  # "apple" in Cyrillic letters
        ("xn--pple-43d", "mixes scripts"),  # Cyrillic a, Latin pple
        ("xn--paypl-7ve", "mixes scripts"),  # "paypal" with a Cyrillic a
        ("xn--ls8h", "may not hold"),  # a pile of poo: a symbol
        ("xn--a-b", "not punycode"),
    ],
)
async def test_punycode_lookalike_project_and_service_names_are_refused(
    api: httpx.AsyncClient, shop: None, static_repo: Path, name: str, reason: str
) -> None:
    project = await api.post("/api/v1/projects", json={"name": name})
    service = await api.post(
        "/api/v1/projects/shop/services", json={"name": name, "source": {"git": str(static_repo)}}
    )

    assert reason in _problem(project, 422)
    assert reason in _problem(service, 422)
    assert (await api.get(f"/api/v1/projects/{name}")).status_code == 404
    assert (await api.get(f"/api/v1/projects/shop/services/{name}")).status_code == 404


async def test_a_punycode_name_of_one_script_is_a_name_like_any_other(
    api: httpx.AsyncClient, shop: None
) -> None:
    made = await api.post("/api/v1/projects", json={"name": "xn--mnchen-3ya"})  # münchen

    assert made.status_code == 201, made.text


RUNTIME_NAMES = [
    "PATH",
    "HOME",
    "PORT",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "NODE_OPTIONS",
    "BASH_ENV",
    "ENV",
    "IFS",
    "SKYFORGE_RELEASE",
    "SKYFORGE_ANYTHING",
]


@pytest.mark.parametrize("name", RUNTIME_NAMES)
async def test_config_vars_and_secrets_that_would_break_the_runtime_are_refused(
    api: httpx.AsyncClient, shop: None, name: str
) -> None:
    as_var = await api.patch(f"{SERVICE}/env", json={name: "/tmp/evil"})
    as_secret = await api.put(f"/api/v1/projects/shop/secrets/{name}", json={"value": "/tmp/evil"})

    for response, what in ((as_var, "config var"), (as_secret, "secret")):
        detail = _problem(response, 422)
        assert f"{what} {name} is reserved" in detail
        assert "LD_*" in detail and "NODE_OPTIONS" in detail  # the rule, named
    assert (await api.get(f"{SERVICE}/env")).json() == {}
    assert (await api.get("/api/v1/projects/shop/secrets")).json()["items"] == []


async def test_names_near_the_reserved_ones_are_ordinary_config_vars(
    api: httpx.AsyncClient, shop: None
) -> None:
    names = {"NODE_ENV": "production", "PYTHONUNBUFFERED": "1", "MY_PATH": "/x", "path": "y"}

    changed = await api.patch(f"{SERVICE}/env", json=names)
    secret = await api.put("/api/v1/projects/shop/secrets/OLD_LD_FLAGS", json={"value": "-O2"})

    assert changed.status_code == 200, changed.text
    assert changed.json() == names
    assert secret.status_code == 201, secret.text


@pytest.mark.parametrize(
    "body", [{"branch": "dev"}, {"commit": "0" * 40}, {"relase": 1}, [], "main", 3]
)
async def test_a_deploy_request_with_unknown_fields_is_a_422_and_deploys_nothing(
    api: httpx.AsyncClient, shop: None, body: object
) -> None:
    refused = await api.post(f"{SERVICE}/deploys", json=body)

    _problem(refused, 422)
    assert (await api.get(f"{SERVICE}/deploys")).json()["items"] == []


async def test_a_deploy_request_without_a_body_or_with_an_empty_one_is_queued(
    api: httpx.AsyncClient, shop: None
) -> None:
    bare = await api.post(f"{SERVICE}/deploys")
    empty = await api.post(f"{SERVICE}/deploys", json={})

    assert bare.status_code == empty.status_code == 202, (bare.text, empty.text)


async def test_a_method_a_path_does_not_take_is_405_naming_every_method_it_takes(
    api: httpx.AsyncClient, shop: None
) -> None:
    for method, path, allowed in [
        ("OPTIONS", "/api/v1/projects", "GET, POST"),
        ("PUT", SERVICE, "DELETE, GET, PATCH"),
        ("TRACE", f"{SERVICE}/env", "GET, PATCH"),
    ]:
        response = await api.request(method, path)
        _problem(response, 405)
        assert response.headers["allow"] == allowed, path


async def test_every_operation_documents_its_errors_as_problem_json(
    api: httpx.AsyncClient,
) -> None:
    spec = (await api.get("/openapi.json")).json()

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status in ("401", "403", "404", "409", "413", "422", "429"):
                documented = operation["responses"][status]["content"]
                assert list(documented) == ["application/problem+json"], (method, path, status)
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    env = spec["paths"]["/api/v1/projects/{project}/services/{service}/env"]["patch"]
    assert "412" in env["responses"]
