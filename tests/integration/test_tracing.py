"""Traces: a real OTLP/HTTP receiver gets SkyForge's spans; a deploy is one trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait
from tests.integration.otlp_receiver import OtlpReceiver, Span, otel_env
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e

SERVER, CLIENT = 2, 3
DEPLOYS_ROUTE = "/api/v1/projects/{project}/services/{service}/deploys"


@pytest.fixture
def traced(tmp_path: Path, otlp: OtlpReceiver) -> Iterator[SkyForge]:
    with SkyForge(tmp_path / "data").running(extra_env=otel_env(otlp), split_output=True) as sf:
        yield sf


def in_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id]


def test_a_deploy_is_one_trace_from_the_request_to_the_rollout(
    traced: SkyForge, otlp: OtlpReceiver, tmp_path: Path
) -> None:
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    api = traced.api()
    api.get("/metrics")
    api.get("/healthz")
    assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    created = api.post(
        "/api/v1/projects/shop/services",
        json={"name": "web", "source": {"git": str(repo), "branch": "main"}},
    )
    assert created.status_code == 201, created.text
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"

    def deploy_traced(spans: list[Span]) -> bool:
        posts = [s for s in spans if s.kind == SERVER and s.name == f"POST {DEPLOYS_ROUTE}"]
        return bool(posts) and {"build", "rollout", "job deploy"} <= {
            s.name for s in in_trace(spans, posts[0].trace_id)
        }

    spans = otlp.wait_for(deploy_traced)
    assert {s.service for s in spans} == {"skyforge-under-test"}
    (post,) = [s for s in spans if s.kind == SERVER and s.name == f"POST {DEPLOYS_ROUTE}"]
    assert post.attributes.get("http.route") == DEPLOYS_ROUTE
    trace = in_trace(spans, post.trace_id)
    by_name = {s.name: s for s in trace}
    # The job continues the request's trace; the steps are its children.
    job = by_name["job deploy"]
    assert job.parent_id and job.parent_id in {s.span_id for s in trace}
    assert by_name["build"].parent_id == job.span_id
    assert by_name["rollout"].parent_id == job.span_id
    # The request's and the job's SQL statements are in the trace too.
    sql = [s for s in trace if s.kind == CLIENT and "db.system" in s.attributes]
    assert any(s.parent_id == post.span_id or s.parent_id in _children(trace, post) for s in sql)
    assert any(s.parent_id == job.span_id for s in sql)
    # Outgoing HTTP (the edge router's admin API) is traced as client spans.
    methods = {"http.request.method", "http.method"}
    outgoing = [s for s in spans if s.kind == CLIENT and methods & s.attributes.keys()]
    assert outgoing
    for span in outgoing:  # only the origin: a webhook's path or query may be its secret
        url = span.attributes.get("url.full") or span.attributes["http.url"]
        assert urlsplit(url).path == "" and not urlsplit(url).query, url
    # Background polls' queries are not traces of their own (ParentBased, roots dropped).
    assert not [s for s in spans if not s.parent_id and "db.system" in s.attributes]
    # Scrapes and probes are not traced.
    assert not [
        s
        for s in spans
        if s.kind == SERVER and s.name.split(" ")[-1] in ("/metrics", "/healthz", "/readyz")
    ]


def _children(trace: list[Span], parent: Span) -> set[str]:
    return {s.span_id for s in trace if s.parent_id == parent.span_id}
