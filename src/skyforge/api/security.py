"""HTTP hardening as pure ASGI middlewares (streaming passes through): headers, CORS, limits."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyforge.adapters.ratelimit import Decision, RateLimiter, Rule, digest, ip_key
from skyforge.api.errors import problem
from skyforge.kernel.jsondepth import MAX_DEPTH, DepthScanner, TooDeep

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI (api/docs.py) comes from this origin alone: no inline script, nothing remote.
# Its React components set style attributes, hence the inline styles.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)
# Without includeSubDomains: apps deployed under the API's hostname may still speak plain HTTP.
HSTS = "max-age=31536000"
_FIXED = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
]
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("authorization", "content-type", "idempotency-key", "if-match", "if-none-match")
CORS_EXPOSE = ("Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "ETag")


def default_csp(path: str) -> str | None:
    """The Content-Security-Policy for a path: strict everywhere but Swagger UI's page."""
    return DOCS_CSP if path == "/docs" or path.startswith("/docs/") else API_CSP


API_RULE = Rule(capacity=300, refill_per_second=5.0)  # per token, else per address
# Per address on login and token endpoints; LoginGuard guards each account more tightly.
AUTH_RULE = Rule(capacity=20, refill_per_second=1 / 3)
# Every request of an address whatever bearer it shows: inventing tokens buys no fresh bucket.
PER_IP_RULE = Rule(capacity=1200, refill_per_second=20.0)


@dataclass(frozen=True)
class RateRules:
    """Which token bucket a request draws from, by path."""

    api: Rule = API_RULE
    auth: Rule = AUTH_RULE
    per_ip: Rule | None = PER_IP_RULE
    auth_paths: tuple[str, ...] = ("/api/v1/auth", "/api/v1/tokens")
    exempt_paths: frozenset[str] = field(default=frozenset({"/healthz", "/readyz", "/metrics"}))


def install(
    app: Starlette,
    *,
    limiter: RateLimiter,
    cors_origins: Sequence[str],
    max_body_bytes: int,
    rules: RateRules | None = None,
    csp_for: Callable[[str], str | None] = default_csp,
) -> None:
    """Harden `app`; install before middlewares that should see the 413s and 429s (metrics)."""
    if getattr(app.state, "security_installed", False):
        raise RuntimeError("security is already installed on this app")
    # Checked now: middlewares are built at the first request, too late for a config error.
    origins = [_origin(origin) for origin in cors_origins]
    if max_body_bytes < 0:
        raise ValueError("max_body_bytes must not be negative")
    app.state.security_installed = True
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(RateLimitMiddleware, limiter=limiter, rules=rules or RateRules())
    if origins:
        app.add_middleware(CorsMiddleware, origins=origins)
    # Headers go outside the whole stack, ServerErrorMiddleware included: add_middleware can
    # only place them inside it, where the 500 responses it writes would go out bare.
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build(), csp_for=csp_for)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]


class SecurityHeadersMiddleware:
    """Security headers on every response; a header the response already has is kept."""

    def __init__(self, app: ASGIApp, *, csp_for: Callable[[str], str | None] = default_csp):
        self.app, self.csp_for = app, csp_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = _route_path(scope)
        extra = list(_FIXED)
        if csp := self.csp_for(path):
            extra.append((b"content-security-policy", csp.encode()))
        if path.startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in extra if header[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CorsMiddleware:
    """CORS for the listed origins only; other origins get no CORS header at all."""

    # No wildcard and no credentials: the API takes bearer tokens, which browsers never
    # attach by themselves, so cookies need not cross origins.

    def __init__(self, app: ASGIApp, *, origins: Sequence[str], max_age: int = 600) -> None:
        self.app, self.origins = app, frozenset(_origin(o) for o in origins)
        self.preflight = [
            (b"access-control-allow-methods", ", ".join(CORS_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(CORS_HEADERS).encode()),
            (b"access-control-max-age", str(max_age).encode()),
        ]
        self.expose = (b"access-control-expose-headers", ", ".join(CORS_EXPOSE).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.origins
        wanted = headers.get("access-control-request-method")
        if origin is not None and scope["method"] == "OPTIONS" and wanted is not None:
            listed = headers.get("access-control-request-headers", "").lower().split(",")
            asked = {name.strip() for name in listed if name.strip()}
            if allowed and wanted in CORS_METHODS and asked <= _SAFE | set(CORS_HEADERS):
                response = Response(status_code=204)
                response.raw_headers += [(b"access-control-allow-origin", origin.encode())]
                response.raw_headers += self.preflight
            else:
                response = problem(403, "CORS preflight refused", "origin, method or headers")
            response.headers["vary"] = "Origin"
            return await response(scope, receive, send)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"vary"]
                vary = [v for k, v in message.get("headers", ()) if k.lower() == b"vary"]
                out.append((b"vary", b", ".join([*vary, b"Origin"])))
                if allowed and origin is not None:
                    out += [(b"access-control-allow-origin", origin.encode()), self.expose]
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_cors)


_SAFE = {"accept", "accept-language", "content-language", "content-type"}


def _origin(value: str) -> str:
    parts = urlsplit(value.strip().rstrip("/").lower())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise ValueError(f"a CORS origin is scheme://host[:port], not {value!r} (no wildcard)")
    return f"{parts.scheme}://{parts.netloc}"


class _Refused(HTTPException):
    # An HTTPException: FastAPI turns any other error raised while it reads a body into a 400.
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)


class BodyGuardMiddleware:
    """Bodies are checked while they stream in, before any parser sees them.

    413 for a body over `max_body_bytes` (a declared length at once, unread); 422 for JSON
    nested deeper than `max_depth`: every parser of the app (FastAPI's, pydantic's, a hook's)
    recurses per level. Bodies FastAPI reads as JSON are scanned: a JSON media type, or none.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_depth: int = MAX_DEPTH) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must not be negative")
        self.app, self.limit, self.max_depth = app, max_body_bytes, max_depth
        self.too_large = f"the request body is larger than {max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A git push carries a whole pack: the git routes bound their (decompressed) bodies.
        if scope["type"] != "http" or _route_path(scope).startswith("/git/"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(_Refused(413, self.too_large), scope, receive, send)
        json = _is_json(headers.get("content-type"))
        scanner = DepthScanner(self.max_depth) if json else None
        read, started = 0, False

        async def checked_receive() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                read += len(body)
                if read > self.limit:
                    raise _Refused(413, self.too_large)
                try:
                    if scanner is not None:
                        scanner.feed(body)
                except TooDeep as exc:
                    raise _Refused(422, exc.detail) from None
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, checked_receive, watched_send)
        except _Refused as exc:
            if started:
                raise  # too late for an answer of ours: the server aborts the response
            await self._refuse(exc, scope, receive, send)

    async def _refuse(self, exc: _Refused, scope: Scope, receive: Receive, send: Send) -> None:
        status = exc.status_code
        title = HTTPStatus(status).phrase if status == 413 else "Invalid input"
        await problem(status, title, str(exc.detail))(scope, receive, send)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI parses a body without a media type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RateLimitMiddleware:
    """Token buckets per bearer token (hashed) or client address; 429 with Retry-After."""

    # The address is scope["client"]: behind a proxy, let the server rewrite it from trusted
    # proxies only (uvicorn --proxy-headers --forwarded-allow-ips=...); X-Forwarded-For is
    # never read here, since any client can send one.

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, rules: RateRules) -> None:
        self.app, self.limiter, self.rules = app, limiter, rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        if scope["type"] != "http" or path in self.rules.exempt_paths:
            return await self.app(scope, receive, send)
        decision, rule = await self._decide(scope, path)
        if not decision.allowed:
            wait = max(1, math.ceil(decision.retry_after))
            response = problem(429, "Too many requests", f"rate limit exceeded; retry in {wait} s")
            limit = str(rule.capacity)
            response.headers.update(
                {"Retry-After": str(wait), "RateLimit-Limit": limit, "RateLimit-Remaining": "0"}
            )
            return await response(scope, receive, send)
        counts = [
            (b"ratelimit-limit", str(rule.capacity).encode()),
            (b"ratelimit-remaining", str(decision.remaining).encode()),
        ]

        async def send_with_counts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *counts]}
            await send(message)

        await self.app(scope, receive, send_with_counts)

    async def _decide(self, scope: Scope, path: str) -> tuple[Decision, Rule]:
        rules, client = self.rules, scope.get("client")
        address = ip_key(client[0]) if client else "unknown"
        if any(_under(path, prefix.rstrip("/")) for prefix in rules.auth_paths):
            # By address even with a bearer: invented bearers must not buy fresh buckets.
            return await self.limiter.hit("auth:" + address, rules.auth), rules.auth
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return await self.limiter.hit("api:ip:" + address, rules.api), rules.api
        outcomes = [
            (await self.limiter.hit("api:token:" + digest(token.strip()), rules.api), rules.api)
        ]
        if rules.per_ip is not None:
            outcomes.append((await self.limiter.hit("ip:" + address, rules.per_ip), rules.per_ip))
        refused = [o for o in outcomes if not o[0].allowed]
        if refused:
            return max(refused, key=lambda o: o[0].retry_after)
        return min(outcomes, key=lambda o: o[0].remaining)


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base + "/")


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
