"""Prometheus metrics of the API: requests by route template and status, with latency.

Labels come from bounded sets only: the route template (never the path, whose parameters are
unbounded), "unmatched" for any path no route knows, and the standard methods ("other" for the
rest). /metrics renders these and the platform's own (builds, deploys, queue, outbox, edge).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from skyforge.observability.metrics import PlatformMetrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install(app: FastAPI, platform: PlatformMetrics | None = None) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "skyforge_http_requests_total",
        "HTTP requests",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "skyforge_http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=registry,
    )

    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = request.method if request.method in METHODS else "other"
            requests.labels(method, template, str(status)).inc()
            latency.labels(method, template).observe(time.perf_counter() - started)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = generate_latest(registry)
        if platform is not None:
            await platform.refresh()
            body += generate_latest(platform.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
