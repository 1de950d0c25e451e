"""security.install() on a small app of the test's own: headers, CORS, body and rate limits."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis

from skyforge.adapters.ratelimit import Decision, MemoryRateLimiter, RedisRateLimiter, Rule
from skyforge.api import errors
from skyforge.api.security import API_CSP, DOCS_CSP, RateRules, default_csp, install

ALLOWED = "https://portal.example"
LIMIT = 1024
REDIS_URL = os.environ.get("SKYFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOMY = RateRules(
    api=Rule(1000, 100.0), auth=Rule(3, 0.01), per_ip=Rule(1000, 100.0)
)  # only the auth rule bites


class RecordingLimiter(MemoryRateLimiter):
    """The in-process limiter, remembering which keys it was asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    async def hit(self, key: str, rule: Rule) -> Decision:
        self.keys.append(key)
        return await super().hit(key, rule)


def make_app(
    limiter: Any = None,
    rules: RateRules = ROOMY,
    csp_for: Callable[[str], str | None] = default_csp,
) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    install(
        app,
        limiter=limiter or MemoryRateLimiter(),
        cors_origins=[ALLOWED + "/"],
        max_body_bytes=LIMIT,
        rules=rules,
        csp_for=csp_for,
    )
    app.state.reached = 0
    app.state.gate = asyncio.Event()

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/v1/items/{number}")
    async def item(number: int) -> dict[str, int]:
        return {"number": number}

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.post("/api/v1/echo")
    async def echo(body: dict[str, str], request: Request) -> dict[str, int]:
        request.app.state.reached += 1
        return {"keys": len(body)}

    @app.post("/api/v1/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": sum([len(chunk) async for chunk in request.stream()])}

    @app.post("/api/v1/auth/login")
    async def auth_login() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/v1/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.wait_for(request.app.state.gate.wait(), 2)  # the client saw "first"
            yield b"second\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    for path in ("/healthz", "/readyz", "/metrics"):
        app.add_api_route(path, ping, methods=["GET"])
    return app


def client(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with client(make_app()) as c:
        yield c


def is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["status"] == status
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/ping", 200), ("/nowhere", 404), ("/api/v1/items/x", 422), ("/api/v1/boom", 500)],
)
async def test_every_response_carries_the_security_headers(
    api: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await api.get(path)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in response.headers  # plain http
    if path.startswith("/api/"):
        assert response.headers["cache-control"] == "no-store"
    if status >= 400:
        assert is_problem(response, status)


async def test_hsts_only_over_https_and_no_store_only_under_api() -> None:
    async with client(make_app(), "https://testserver") as api:
        response = await api.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "cache-control" not in response.headers


async def test_the_csp_can_differ_by_path() -> None:
    portal = "default-src 'self'"
    app = make_app(csp_for=lambda path: portal if path.startswith("/portal") else API_CSP)
    async with client(app) as api:
        assert (await api.get("/portal/x")).headers["content-security-policy"] == portal
        assert (await api.get("/api/v1/ping")).headers["content-security-policy"] == API_CSP
    assert default_csp("/docs") == DOCS_CSP  # Swagger UI needs its scripts


async def test_cors_answers_the_configured_origin_only(api: httpx.AsyncClient) -> None:
    allowed = await api.get("/api/v1/ping", headers={"Origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "Retry-After" in allowed.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in allowed.headers
    assert "Origin" in allowed.headers["vary"]
    for origin in ("https://evil.example", "null", "https://portal.example.evil"):
        refused = await api.get("/api/v1/ping", headers={"Origin": origin})
        assert refused.status_code == 200  # the browser, not the server, withholds the body
        assert not [h for h in refused.headers if h.startswith("access-control-")]


async def test_cors_preflight(api: httpx.AsyncClient) -> None:
    asking = {"Access-Control-Request-Method": "PATCH"}
    asking["Access-Control-Request-Headers"] = "Authorization, Content-Type"
    ok = await api.options("/api/v1/echo", headers={"Origin": ALLOWED, **asking})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert "PATCH" in ok.headers["access-control-allow-methods"]
    assert "authorization" in ok.headers["access-control-allow-headers"]
    for origin, extra in (("https://evil.example", {}), (ALLOWED, {"X-Evil": "1"})):
        headers = {"Origin": origin, **asking}
        if extra:
            headers["Access-Control-Request-Headers"] = "x-evil"
        refused = await api.options("/api/v1/echo", headers=headers)
        assert is_problem(refused, 403)
        assert not [h for h in refused.headers if h.startswith("access-control-")]
        assert refused.headers["x-frame-options"] == "DENY"


def test_cors_refuses_a_wildcard() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        install(FastAPI(), limiter=MemoryRateLimiter(), cors_origins=["*"], max_body_bytes=1)


async def test_a_declared_body_over_the_limit_is_refused_unread() -> None:
    app = make_app()
    async with client(app) as api:
        response = await api.post("/api/v1/echo", content=b"x" * (LIMIT + 1))
        assert is_problem(response, 413)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert app.state.reached == 0
        ok = await api.post("/api/v1/echo", json={"a": "b"})
        assert ok.json() == {"keys": 1}


async def chunked(total: int) -> AsyncIterator[bytes]:
    """A body without Content-Length, in 100-byte pieces."""
    for _ in range(total // 100):
        yield b'"' + b"x" * 98 + b'"'


@pytest.mark.parametrize("path", ["/api/v1/echo", "/api/v1/upload"])
async def test_a_chunked_body_is_cut_at_the_limit(api: httpx.AsyncClient, path: str) -> None:
    response = await api.post(path, content=chunked(LIMIT * 4))
    assert is_problem(response, 413)
    assert response.headers["content-security-policy"] == API_CSP
    small = await api.post("/api/v1/upload", content=chunked(LIMIT - 100))
    assert small.json() == {"bytes": LIMIT - 100 - (LIMIT - 100) % 100}


async def test_login_endpoints_have_a_stricter_limit(api: httpx.AsyncClient) -> None:
    for n in range(3):  # invented bearers buy no fresh bucket on login endpoints
        headers = {"Authorization": f"Bearer fake-{n}"}
        assert (await api.post("/api/v1/auth/login", headers=headers)).status_code == 200
    refused = await api.post("/api/v1/auth/login", headers={"Origin": ALLOWED})
    assert is_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["access-control-allow-origin"] == ALLOWED  # readable by the portal
    assert refused.headers["x-frame-options"] == "DENY"
    assert (await api.get("/api/v1/ping")).status_code == 200


async def test_bearers_get_their_own_buckets_under_one_ceiling_per_address() -> None:
    limiter = RecordingLimiter()
    rules = RateRules(api=Rule(2, 0.01), auth=Rule(3, 0.01), per_ip=Rule(6, 0.01))
    async with client(make_app(limiter, rules)) as api:
        alice, bob = {"Authorization": "Bearer sf_alice"}, {"Authorization": "Bearer sf_bob"}
        statuses = [(await api.get("/api/v1/ping", headers=h)).status_code for h in (alice,) * 3]
        assert statuses == [200, 200, 429]
        assert (await api.get("/api/v1/ping", headers=bob)).status_code == 200
        for n in range(2):
            headers = {"Authorization": f"Bearer invented-{n}"}
            assert (await api.get("/api/v1/ping", headers=headers)).status_code == 200
        invented = {"Authorization": "Bearer invented-9"}  # the address's seventh request
        assert (await api.get("/api/v1/ping", headers=invented)).status_code == 429
    assert not [key for key in limiter.keys if "alice" in key or "bob" in key]


async def test_health_and_metrics_are_never_limited() -> None:
    rules = RateRules(api=Rule(1, 0.01), auth=Rule(1, 0.01), per_ip=Rule(1, 0.01))
    async with client(make_app(rules=rules)) as api:
        for _ in range(20):
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await api.get(path)).status_code == 200


async def test_replicas_share_the_login_limit_through_redis() -> None:
    prefix = f"skyforge-test-{uuid.uuid4().hex}:"
    redis = Redis.from_url(REDIS_URL)
    try:
        replicas = [make_app(RedisRateLimiter(redis, prefix)) for _ in range(2)]
        async with client(replicas[0]) as one, client(replicas[1]) as two:
            for api in (one, two, one):
                assert (await api.post("/api/v1/auth/login")).status_code == 200
            assert (await two.post("/api/v1/auth/login")).status_code == 429
    finally:
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        await redis.delete(*keys)
        await redis.aclose()


async def test_a_streaming_response_still_streams() -> None:
    app, done = make_app(), asyncio.Event()
    messages: list[MutableMapping[str, Any]] = []
    requested: list[bool] = []

    async def receive() -> MutableMapping[str, Any]:
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)
        if message.get("body") == b"first\n":
            app.state.gate.set()  # the route may only go on once this chunk has arrived
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/v1/stream", "raw_path": b"/api/v1/stream",
        "root_path": "", "query_string": b"", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }  # fmt: skip
    await asyncio.wait_for(app(scope, receive, send), 5)
    start, *bodies = messages
    assert start["status"] == 200
    assert (b"x-frame-options", b"DENY") in start["headers"]
    assert [m["body"] for m in bodies if m["body"]] == [b"first\n", b"second\n"]
