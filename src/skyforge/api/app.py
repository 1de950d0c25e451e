"""create_app(): the REST API (and later GraphQL and the portal) over one Platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from skyforge import __version__
from skyforge.adapters.ratelimit import Rule
from skyforge.api import deadlines, docs, errors, metrics, openapi, security
from skyforge.api.context import RequestContextMiddleware
from skyforge.api.idempotency import IdempotencyMiddleware
from skyforge.api.rest import audit as audit_routes
from skyforge.api.rest import databases as database_routes
from skyforge.api.rest import deploys, domains, identity, members, projects, services
from skyforge.api.rest import git as git_routes
from skyforge.api.rest import hooks as hook_routes
from skyforge.api.rest import log_drains as log_drain_routes
from skyforge.api.rest import logs as log_routes
from skyforge.api.rest import processes as process_routes
from skyforge.api.rest import secrets as secret_routes
from skyforge.api.rest import webhooks as webhook_routes
from skyforge.bootstrap import Platform
from skyforge.observability import tracing
from skyforge.web import pages


def create_app(platform: Platform, *, manage_lifecycle: bool = False) -> FastAPI:
    """The ASGI app. With manage_lifecycle the app starts and stops the platform itself."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await platform.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await platform.stop()

    app = FastAPI(
        title="SkyForge",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # docs.install: Swagger UI with no CDN
        redoc_url=None,
        telemetry=tracing.fastapi_telemetry(),  # spans only when traces are exported
    )
    app.state.platform = platform
    errors.install(app)
    openapi.install(app)
    docs.install(app)

    async def user_of(token: str) -> str:
        return (await platform.cache.authenticate(token)).user_id

    # Innermost: it sees requests the body, depth and rate limits let through, nothing else.
    app.add_middleware(IdempotencyMiddleware, store=platform.idempotency, caller=user_of)
    s = platform.settings
    security.install(
        app,
        limiter=platform.limiter,
        cors_origins=s.cors_origins,
        max_body_bytes=s.max_body_bytes,
        rules=security.RateRules(
            api=Rule(s.rate_api_burst, s.rate_api_per_second),
            auth=Rule(s.rate_auth_burst, s.rate_auth_per_second),
            per_ip=Rule(s.rate_ip_burst, s.rate_ip_per_second),
            # The strict bucket is for guessing credentials; polling a login is not that.
            auth_paths=(
                "/api/v1/auth/login",
                "/api/v1/auth/signup",
                "/api/v1/auth/refresh",
                "/api/v1/auth/oidc/start",
                "/api/v1/auth/oidc/login",
                "/api/v1/auth/oidc/callback",
                "/api/v1/tokens",
            ),
        ),
    )
    # Inside the metrics and request context: a 408 is counted and carries its request id.
    app.add_middleware(deadlines.BodyDeadlineMiddleware, body_timeout=s.body_timeout)
    metrics.install(app, platform.metrics)

    app.add_middleware(RequestContextMiddleware)
    for module in (identity, projects, members, services, deploys, domains):
        app.include_router(module.router)
    app.include_router(identity.wellknown)
    app.include_router(audit_routes.router)
    app.include_router(secret_routes.router)
    app.include_router(database_routes.router)
    app.include_router(log_routes.router)
    app.include_router(process_routes.router)
    app.include_router(log_drain_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(secret_routes.keys)
    app.include_router(git_routes.router)
    app.include_router(hook_routes.router)
    app.include_router(hook_routes.receiver)
    app.include_router(pages.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"description": "A dependency is unavailable (named in the body)"}},
    )
    async def readyz() -> JSONResponse:
        """Readiness: the database answers (and NATS, when configured), the edge router runs."""
        try:
            async with platform.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        parts = {"database": "ok", **await platform.stream.ready()}
        edge = platform.edge.state()  # "down" while Caddy is dead or being started again
        if edge is not None:
            parts["edge"] = edge
        if any(state != "ok" for state in parts.values()):
            return JSONResponse({"status": "unavailable", **parts}, status_code=503)
        return JSONResponse({"status": "ok", **parts})

    return app
