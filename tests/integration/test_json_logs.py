"""Structured logs: every line `skyforge up` logs is one JSON object, joined to its request."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import TOKEN, SkyForge
from tests.integration.otlp_receiver import OtlpReceiver, otel_env

pytestmark = pytest.mark.e2e

SERVER = 2


def log_lines(sf: SkyForge) -> list[dict[str, Any]]:
    """Every line on stderr, parsed: a line that is not one JSON object fails the test."""
    lines = [line for line in sf.log().splitlines() if line.strip()]
    assert lines
    parsed = []
    for line in lines:
        doc = json.loads(line)
        assert isinstance(doc, dict), line
        assert {"timestamp", "level", "logger", "event"} <= doc.keys(), line
        parsed.append(doc)
    return parsed


def test_every_line_is_json_and_a_request_line_carries_its_request_and_trace_id(
    tmp_path: Path, otlp: OtlpReceiver
) -> None:
    with SkyForge(tmp_path / "data").running(extra_env=otel_env(otlp), split_output=True) as sf:
        api = sf.api()
        given = api.get("/api/v1/projects", headers={"X-Request-ID": "my-req-42"})
        assert given.headers["x-request-id"] == "my-req-42"
        made = api.post("/api/v1/projects", json={"name": "shop"})
        generated = made.headers["x-request-id"]
        missing = api.get("/api/v1/projects/nope")
        assert missing.status_code == 404
        api.get("/metrics")
        otlp.wait_for(lambda spans: any(s.name == "POST /api/v1/projects" for s in spans))
        time.sleep(0.3)  # the access lines of the last requests reach the file

    lines = log_lines(sf)
    access = [d for d in lines if d["logger"] == "uvicorn.access"]
    by_request = {d.get("request_id"): d for d in access}
    for request_id, path in (("my-req-42", "GET /api/v1/projects"), (generated, "POST")):
        line = by_request[request_id]
        assert path in line["event"]
        assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
        assert re.fullmatch(r"[0-9a-f]{16}", line["span_id"])
    # The trace id in the log line is the one of the request's exported span.
    posts = [s for s in otlp.spans if s.kind == SERVER and s.name == "POST /api/v1/projects"]
    assert by_request[generated]["trace_id"] == posts[0].trace_id
    # Lines outside any request (start-up, shut-down) have no request id.
    assert any("request_id" not in d for d in lines)
    # SkyForge's own loggers and uvicorn's print through the same handler.
    assert any(d["logger"].startswith("uvicorn.error") for d in lines)
    assert any(d["logger"].startswith("skyforge.") for d in lines)
    assert not any(d["logger"] == "httpx" for d in lines)  # URLs of every outgoing request
    assert TOKEN not in sf.log()


def test_without_an_otlp_endpoint_lines_are_json_with_request_ids_and_no_trace(
    tmp_path: Path,
) -> None:
    with SkyForge(tmp_path / "data").running(
        extra_env={"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, split_output=True
    ) as sf:
        api = sf.api()
        response = api.get("/api/v1/projects")
        time.sleep(0.3)
    lines = log_lines(sf)
    (line,) = [d for d in lines if d.get("request_id") == response.headers["x-request-id"]]
    assert line["logger"] == "uvicorn.access" and "trace_id" not in line
