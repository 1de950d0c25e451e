"""/metrics: HTTP by route template, builds and deploys, the job queue, the outbox, the edge."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import TOKEN
from tests.support import free_port

from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.edge.base import Route
from skyforge.edge.book import RouteBook
from skyforge.edge.caddy import CaddyEdge
from skyforge.edge.caddy_process import read_pidfile
from skyforge.observability.edge_metrics import EdgeCollector

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text page, by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(page: Samples, name: str, **labels: str) -> float | None:
    return page.get((name, frozenset(labels.items())))


def label_values(page: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for n, labels in page if n == name and label in dict(labels)}


async def scrape(api: httpx.AsyncClient) -> Samples:
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_requests_are_counted_by_route_template_never_by_path(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    for name in ("shop", "nope-1", "nope-2"):
        await api.get(f"/api/v1/projects/{name}")
    for n in range(5):
        await api.get(f"/no/such/path/{n}")
    await api.request("BREW", "/api/v1/projects")

    page = await scrape(api)
    routes = label_values(page, "skyforge_http_requests_total", "route")
    assert "/api/v1/projects/{project}" in routes
    assert "unmatched" in routes
    assert not any("nope" in r or "/no/such" in r or r.endswith("/shop") for r in routes)
    template = "/api/v1/projects/{project}"
    assert value(page, "skyforge_http_requests_total", method="GET", route=template, status="200")
    assert value(
        page, "skyforge_http_requests_total", method="GET", route=template, status="404"
    ) == pytest.approx(2)
    assert value(
        page, "skyforge_http_requests_total", method="GET", route="unmatched", status="404"
    ) == pytest.approx(5)
    assert label_values(page, "skyforge_http_requests_total", "method") <= {
        "GET",
        "POST",
        "other",
    }
    count = value(
        page,
        "skyforge_http_request_duration_seconds_count",
        method="POST",
        route="/api/v1/projects",
    )
    assert count == pytest.approx(1)


@pytest.fixture
async def idle(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API of a platform whose workers do not run: queued jobs and events stay put."""
    platform = Platform(settings)
    await platform.start(background=False)
    app = create_app(platform)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://skyforge.test",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            yield client
    finally:
        await platform.stop()


async def test_queue_depth_and_age_and_outbox_lag_are_read_at_scrape_time(
    idle: httpx.AsyncClient, static_repo: Path
) -> None:
    before = await scrape(idle)
    assert value(before, "skyforge_job_queue_depth", kind="deploy") == 0
    assert value(before, "skyforge_job_queue_oldest_age_seconds", kind="deploy") == 0
    assert value(before, "skyforge_outbox_unpublished") is not None

    await idle.post("/api/v1/projects", json={"name": "shop"})
    created = await idle.post(
        "/api/v1/projects/shop/services",
        json={"name": "web", "source": {"git": str(static_repo), "branch": "main"}},
    )
    assert created.status_code == 201, created.text
    queued = await idle.post("/api/v1/projects/shop/services/web/deploys")
    assert queued.status_code == 202
    await asyncio.sleep(1.6)  # past the scrape cache, and old enough to have an age

    page = await scrape(idle)
    assert value(page, "skyforge_job_queue_depth", kind="deploy") == 1
    age = value(page, "skyforge_job_queue_oldest_age_seconds", kind="deploy")
    assert age is not None and 1.0 <= age < 60
    unpublished = value(page, "skyforge_outbox_unpublished")
    assert unpublished is not None and unpublished >= 3  # project, service, deploy queued
    lag = value(page, "skyforge_outbox_lag_seconds")
    assert lag is not None and 1.0 <= lag < 60


async def test_a_finished_deploy_and_its_build_are_counted_once_with_durations(
    api: httpx.AsyncClient, static_repo: Path
) -> None:
    await api.post("/api/v1/projects", json={"name": "shop"})
    await api.post(
        "/api/v1/projects/shop/services",
        json={"name": "web", "source": {"git": str(static_repo), "branch": "main"}},
    )
    deploy = (await api.post("/api/v1/projects/shop/services/web/deploys")).json()
    url = f"/api/v1/projects/shop/services/web/deploys/{deploy['id']}"
    deadline = time.monotonic() + 60
    while (await api.get(url)).json()["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert (await api.get(url)).json()["status"] == "succeeded"

    page = await scrape(api)
    assert value(page, "skyforge_deploys_total", outcome="succeeded", kind="build") == 1
    assert value(page, "skyforge_deploys_total", outcome="failed", kind="build") == 0
    assert value(page, "skyforge_deploy_duration_seconds_count", outcome="succeeded") == 1
    took = value(page, "skyforge_deploy_duration_seconds_sum", outcome="succeeded")
    assert took is not None and 0 < took < 60
    assert value(page, "skyforge_builds_total", outcome="succeeded") == 1
    assert value(page, "skyforge_build_duration_seconds_count", outcome="succeeded") == 1


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path == "/boom" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
async def book() -> AsyncIterator[tuple[RouteBook, int]]:
    port = free_port()
    # A short data dir: unix socket paths must stay under 108 bytes (pytest's tmp_path is long).
    data_dir = Path(tempfile.mkdtemp(prefix="sf-edge-", dir="/tmp"))
    caddy = CaddyEdge(data_dir, port)
    routes = RouteBook(caddy)
    await routes.start()
    try:
        yield routes, port
    finally:
        with contextlib.suppress(Exception):
            await routes.close()
        left = read_pidfile(caddy.data_dir / "run" / "caddy.pid")
        if left is not None:
            await left.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_edge_traffic_is_exported_per_service_by_status_class(
    book: tuple[RouteBook, int], backend: str
) -> None:
    routes, port = book
    await routes.set_service_routes(
        [
            Route("shop.web", ("web.shop.localhost", "www.shop.example")),
            Route("shop.api", ("api.shop.localhost",)),
        ]
    )
    await routes.set_upstreams("shop.web", [backend])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for host, path in [
            (f"web.shop.localhost:{port}", "/"),  # as browsers and curl send it
            ("web.shop.localhost", "/"),
            ("WWW.shop.example", "/"),
            (f"web.shop.localhost:{port}", "/boom"),
            (f"api.shop.localhost:{port}", "/"),  # no upstream: the 503 page
            (f"unknown.example:{port}", "/"),  # routed nowhere: not a service's traffic
        ]:
            await client.get(path, headers={"Host": host})

    registry = CollectorRegistry()
    collector = EdgeCollector(routes)
    registry.register(collector)
    await collector.refresh()
    page = samples(generate_latest(registry).decode())

    web = {"project": "shop", "service": "web"}
    assert value(page, "skyforge_service_requests_total", **web, code_class="2xx") == 3
    assert value(page, "skyforge_service_requests_total", **web, code_class="5xx") == 1
    api = {"project": "shop", "service": "api"}
    assert value(page, "skyforge_service_requests_total", **api, code_class="5xx") == 1
    assert value(page, "skyforge_service_request_duration_seconds_count", **web) == 4
    assert value(page, "skyforge_service_request_duration_seconds_bucket", **web, le="+Inf") == 4
    assert label_values(page, "skyforge_service_requests_total", "service") == {"web", "api"}
