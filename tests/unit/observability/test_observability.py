"""Observability pieces without I/O: the edge metrics mapping, the sampler, the JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision

from skyforge.kernel import context
from skyforge.observability import logging as structured
from skyforge.observability.edge_metrics import parse
from skyforge.observability.tracing import NoBackgroundQueries, origin_only


def _line(
    suffix: str, code: str, host: str, value: float, server: str = "edge", le: str = ""
) -> str:
    labels = f'code="{code}",handler="reverse_proxy",host="{host}",method="GET",server="{server}"'
    labels += f',le="{le}"' if le else ""
    return f"caddy_http_request_duration_seconds_{suffix}{{{labels}}} {value}"


CADDY = "\n".join(
    [
        "# TYPE caddy_http_request_duration_seconds histogram",
        _line("bucket", "200", "web.shop.localhost", 3, le="0.1"),
        _line("bucket", "200", "web.shop.localhost", 4, le="+Inf"),
        _line("sum", "200", "web.shop.localhost", 0.5),
        _line("count", "200", "web.shop.localhost", 4),
        _line("count", "503", "web.shop.localhost", 9, server="unavailable"),
        _line("count", "404", "evil.example", 7),
        _line("count", "502", "WWW.SHOP.EXAMPLE", 1),
        "",
    ]
)


def test_edge_metrics_map_hosts_to_services_and_skip_the_503_server_and_unknown_hosts() -> None:
    hosts = {"web.shop.localhost": "shop.web", "www.shop.example": "shop.web"}
    services = parse(CADDY, hosts)
    assert set(services) == {("shop", "web")}
    web = services[("shop", "web")]
    assert dict(web.requests) == {"2xx": 4, "5xx": 1}
    assert dict(web.buckets) == {0.1: 3, float("inf"): 4}
    assert web.total == 0.5


def test_sql_outside_requests_is_dropped_and_kept_spans_keep_their_attributes() -> None:
    sampler = NoBackgroundQueries()
    sql = sampler.should_sample(None, 1, "SELECT skyforge", trace.SpanKind.CLIENT, {})
    assert sql.decision == Decision.DROP
    delete = sampler.should_sample(None, 1, "DELETE skyforge", trace.SpanKind.CLIENT, None)
    assert delete.decision == Decision.DROP
    attrs = {"http.method": "POST", "http.url": "http://caddy-admin"}
    http = sampler.should_sample(None, 1, "POST", trace.SpanKind.CLIENT, attrs)
    assert http.decision == Decision.RECORD_AND_SAMPLE and dict(http.attributes) == attrs
    server = sampler.should_sample(None, 1, "GET /x", trace.SpanKind.SERVER, {"a": 1})
    assert server.decision == Decision.RECORD_AND_SAMPLE and dict(server.attributes) == {"a": 1}


def test_outgoing_urls_are_cut_to_their_origin() -> None:
    tracer = TracerProvider().get_tracer("t")
    request = httpx.Request("POST", "https://hooks.example:8443/services/T0/SECRET?token=x")
    with tracer.start_as_current_span("POST") as span:
        origin_only(span, request)
        assert span.attributes is not None
        assert span.attributes["http.url"] == "https://hooks.example:8443"
        assert span.attributes["url.full"] == "https://hooks.example:8443"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    stream = io.StringIO()
    structured.configure("INFO", "json", stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)


def test_stdlib_and_structlog_lines_are_json_with_the_request_id(captured: io.StringIO) -> None:
    token = context.current.set(context.RequestContext("req-1"))
    try:
        logging.getLogger("skyforge.test").warning("deploy %s failed", "d1")
        structured.get_logger("skyforge.other").info("queued", deploy="d2")
    finally:
        context.current.reset(token)
    logging.getLogger("skyforge.test").info("outside")
    logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/SECRET")
    first, second, third = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["event"] == "deploy d1 failed" and first["level"] == "warning"
    assert first["logger"] == "skyforge.test" and first["request_id"] == "req-1"
    assert second["event"] == "queued" and second["deploy"] == "d2"
    assert second["request_id"] == "req-1" and second["logger"] == "skyforge.other"
    assert "request_id" not in third and "timestamp" in third
    assert "SECRET" not in captured.getvalue()


def test_the_log_format_follows_the_terminal_unless_one_is_asked_for() -> None:
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal, io.StringIO() as pipe:
        assert structured.resolve_format("auto", terminal) == "console"
        assert structured.resolve_format("auto", pipe) == "json"
        assert structured.resolve_format("json", terminal) == "json"
        assert structured.resolve_format("console", pipe) == "console"
    os.close(primary)
    assert structured.access_log_wanted("json", "INFO")
    assert not structured.access_log_wanted("console", "INFO")
    assert structured.access_log_wanted("console", "DEBUG")
