"""deploy/: the Grafana dashboard and the Prometheus rules load, parse, and use real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "skyforge.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
# Series Prometheus makes itself for every target, not exposed by SkyForge.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}
# Grafana's template variables, as a query for a real project would have them.
GRAFANA_VARS = {"$project": "shop", "$service": "web", "$__rate_interval": "5m"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def panel_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def grafana_free(expr: str) -> str:
    for variable, example in GRAFANA_VARS.items():
        expr = expr.replace(variable, example)
    return expr


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_the_dashboard_has_what_grafana_requires() -> None:
    doc = dashboard()
    assert doc["uid"] and doc["title"] and isinstance(doc["schemaVersion"], int)
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in doc["panels"]:
        assert {"type", "title", "gridPos"} <= panel.keys()
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs))
    variables = {v["name"] for v in doc["templating"]["list"]}
    assert {"datasource", "project", "service"} <= variables


def test_the_dashboard_covers_every_area() -> None:
    used = set().union(*(metric_names(grafana_free(e)) for e in panel_exprs()))
    for needed in (
        "skyforge_http_requests_total",
        "skyforge_http_request_duration_seconds_bucket",
        "skyforge_deploys_total",
        "skyforge_deploy_duration_seconds_bucket",
        "skyforge_builds_total",
        "skyforge_build_duration_seconds_bucket",
        "skyforge_job_queue_depth",
        "skyforge_job_queue_oldest_age_seconds",
        "skyforge_outbox_lag_seconds",
        "skyforge_service_requests_total",
        "skyforge_service_request_duration_seconds_bucket",
    ):
        assert needed in used, needed
    service_exprs = [e for e in panel_exprs() if "skyforge_service_" in e]
    assert all("$project" in e and "$service" in e for e in service_exprs)


def test_alert_rules_have_the_structure_prometheus_requires() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    assert set(doc) == {"groups"}
    names = [g["name"] for g in doc["groups"]]
    assert len(names) == len(set(names))
    rules = alert_rules()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", rule["alert"])
        assert re.fullmatch(r"(\d+[smhd])+", rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        promql_parser.parse(rule["expr"])
    assert {r["alert"] for r in rules} == {
        "SkyForgeTargetDown",
        "SkyForgeApiErrorRatio",
        "SkyForgeApiLatencyHigh",
        "SkyForgeDeployFailureRatio",
        "SkyForgeJobQueueStuck",
        "SkyForgeOutboxLag",
        "SkyForgeServiceErrorRatio",
    }


def test_the_scrape_example_loads_the_rules_and_scrapes_the_job_the_rules_name() -> None:
    doc = yaml.safe_load(PROMETHEUS.read_text())
    assert [(PROMETHEUS.parent / f).resolve() for f in doc["rule_files"]] == [ALERTS.resolve()]
    (job,) = doc["scrape_configs"]
    assert job["job_name"] == "skyforge" and job["metrics_path"] == "/metrics"
    assert 'up{job="skyforge"}' in ALERTS.read_text()


@pytest.mark.parametrize("expr", panel_exprs() + [r["expr"] for r in alert_rules()])
def test_every_expression_parses(expr: str) -> None:
    promql_parser.parse(grafana_free(expr))


async def test_every_metric_used_is_one_skyforge_exposes(api: httpx.AsyncClient) -> None:
    page = (await api.get("/metrics")).text
    exposed = {
        family.name + suffix
        for family in text_string_to_metric_families(page)
        for suffix in SUFFIXES.get(family.type, ("",))
    }
    used = set().union(
        *(metric_names(grafana_free(e)) for e in panel_exprs() + [r["expr"] for r in alert_rules()])
    )
    assert used - SYNTHETIC <= exposed, sorted(used - SYNTHETIC - exposed)
