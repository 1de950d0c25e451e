"""Per deployed service traffic, from the edge router's own metrics.

Caddy counts requests per Host (`"metrics": {"per_host": true}`) and serves them on its admin
socket; at scrape time they are read, mapped host -> service by the routes, and re-exported as
skyforge_service_requests_total{project,service,code_class} and
skyforge_service_request_duration_seconds{project,service} (Caddy's buckets). Hosts that route
nowhere (404s for unknown names) are left out: they would be unbounded label values.
skyforge_edge_repairs_total{part} counts what the reconciler found changed in the router and put
back (its config, a slot file, its process): anything but 0 means someone else touched it.
part="process" counts the restarts of a Caddy that died or stopped answering (workers/edge_watch).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

CADDY_DURATION = "caddy_http_request_duration_seconds"
# Caddy's second server only answers 503 pages for routes without upstreams, reached through
# the edge server's proxy: counting it would count those requests twice.
SKIPPED_SERVERS = frozenset({"unavailable"})


class EdgeSource(Protocol):
    def hosts(self) -> dict[str, str]:
        """Routed hostname -> route key ("{project}.{service}")."""

    async def metrics_text(self) -> str | None:
        """The router's Prometheus text, or None when it exposes none."""

    def repairs(self) -> dict[str, int]:
        """How often each part of the router was found changed and put back."""


@dataclass
class _Service:
    requests: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))
    total: float = 0.0


class EdgeCollector(Collector):
    def __init__(self, edge: EdgeSource) -> None:
        self.edge = edge
        self._services: dict[tuple[str, str], _Service] = {}

    async def refresh(self) -> None:
        text = await self.edge.metrics_text()
        self._services = parse(text, self.edge.hosts()) if text else {}

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "skyforge_service_requests",
            "Requests to deployed services through the edge router, by status class",
            labels=["project", "service", "code_class"],
        )
        latency = HistogramMetricFamily(
            "skyforge_service_request_duration_seconds",
            "Latency of requests to deployed services, measured by the edge router",
            labels=["project", "service"],
        )
        for (project, service), seen in sorted(self._services.items()):
            for code_class, count in sorted(seen.requests.items()):
                requests.add_metric([project, service, code_class], count)
            buckets = [(_le(bound), count) for bound, count in sorted(seen.buckets.items())]
            latency.add_metric([project, service], buckets, sum_value=seen.total)
        yield requests
        yield latency
        repairs = CounterMetricFamily(
            "skyforge_edge_repairs",
            "Parts of the edge router found changed by someone else and put back",
            labels=["part"],
        )
        for part, count in sorted(self.edge.repairs().items()):
            repairs.add_metric([part], count)
        yield repairs


def parse(text: str, hosts: dict[str, str]) -> dict[tuple[str, str], _Service]:
    """Caddy's request duration histogram summed per (project, service)."""
    services: dict[tuple[str, str], _Service] = defaultdict(_Service)
    for family in text_string_to_metric_families(text):
        if family.name != CADDY_DURATION:
            continue
        for sample in family.samples:
            labels = sample.labels
            key = hosts.get(_hostname(labels.get("host", "")))
            if key is None or labels.get("server") in SKIPPED_SERVERS or "." not in key:
                continue
            project, service = key.split(".", 1)
            seen = services[(project, service)]
            if sample.name.endswith("_count"):
                seen.requests[_code_class(labels.get("code", ""))] += sample.value
            elif sample.name.endswith("_sum"):
                seen.total += sample.value
            elif sample.name.endswith("_bucket"):
                seen.buckets[float(labels["le"])] += sample.value
    return dict(services)


def _hostname(host: str) -> str:
    """The name in a Host header ("web.shop.localhost:8080" -> "web.shop.localhost")."""
    name, _, port = host.lower().rpartition(":")
    return name if name and port.isdigit() else host.lower()


def _code_class(code: str) -> str:
    return f"{code[0]}xx" if len(code) == 3 and code.isdigit() else "other"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)
