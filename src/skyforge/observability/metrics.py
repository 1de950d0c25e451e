"""The platform's Prometheus metrics: builds and deploys, the job queue, the outbox, the edge.

One registry per Platform. Builds and deploys are counted once, by the process that ran them,
when they finish; the queue, outbox and edge figures are read at scrape time (`refresh()`,
awaited by /metrics before it renders), cached for a second so that concurrent scrapes share one
query and a slow database never stalls a scrape for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.observability.edge_metrics import EdgeCollector, EdgeSource
from skyforge.observability.queue_metrics import QueueCollector
from skyforge.observability.tracing import quiet

log = logging.getLogger(__name__)

OUTCOMES = ("succeeded", "failed", "cancelled")
# Builds and rollouts take seconds to minutes.
DURATION_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800)
REFRESH_TIMEOUT = 2.0
MIN_AGE = 1.0
P = ParamSpec("P")
T = TypeVar("T")


class PlatformMetrics:
    def __init__(
        self, engine: AsyncEngine, edge: EdgeSource | None, job_kinds: Iterable[str]
    ) -> None:
        self.registry = CollectorRegistry()
        self.builds = Counter(
            "skyforge_builds_total", "Builds by outcome", ["outcome"], registry=self.registry
        )
        self.build_seconds = Histogram(
            "skyforge_build_duration_seconds",
            "Build duration, from the build's start to its end",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.deploys = Counter(
            "skyforge_deploys_total",
            "Deploys (builds, config changes, rollbacks) by outcome",
            ["outcome", "kind"],
            registry=self.registry,
        )
        self.deploy_seconds = Histogram(
            "skyforge_deploy_duration_seconds",
            "Deploy duration, from its start (claimed by a worker) to its end",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.builds.labels(outcome)
            self.build_seconds.labels(outcome)
            self.deploys.labels(outcome, "build")
            self.deploy_seconds.labels(outcome)
        self.queue = QueueCollector(engine, job_kinds)
        self.edge = EdgeCollector(edge) if edge is not None else None
        self.registry.register(self.queue)
        if self.edge is not None:
            self.registry.register(self.edge)
        self._refreshed = 0.0
        self._lock = asyncio.Lock()

    def build_finished(self, outcome: str, seconds: float) -> None:
        self.builds.labels(outcome).inc()
        self.build_seconds.labels(outcome).observe(max(seconds, 0.0))

    def deploy_finished(
        self, outcome: str, kind: str, started: datetime | None, finished: datetime | None
    ) -> None:
        """Count a finished deploy; its duration comes from the deploy record's timestamps."""
        self.deploys.labels(outcome, kind).inc()
        if started is not None and finished is not None:
            seconds = (finished - started).total_seconds()
            self.deploy_seconds.labels(outcome).observe(max(seconds, 0.0))

    async def refresh(self) -> None:
        """Re-read the scrape-time figures unless read within the last second."""
        async with self._lock:
            if time.monotonic() - self._refreshed < MIN_AGE:
                return
            # Scrapes are not traced: their queries would make a trace every few seconds.
            with quiet():
                await _bounded(self.queue.refresh(), "job queue and outbox")
                if self.edge is not None:
                    await _bounded(self.edge.refresh(), "edge router")
            self._refreshed = time.monotonic()


async def _bounded(work: Awaitable[None], what: str) -> None:
    """Run a refresh for at most REFRESH_TIMEOUT; on failure keep the previous figures."""
    try:
        async with asyncio.timeout(REFRESH_TIMEOUT):
            await work
    except Exception as exc:
        log.warning("metrics of the %s could not be read: %s", what, type(exc).__name__)


def measured_builds(
    metrics: PlatformMetrics, run_build: Callable[P, Awaitable[T]]
) -> Callable[P, Awaitable[T]]:
    """`run_build` counting each build it runs by outcome, with its duration."""

    async def measured(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.monotonic()
        outcome = "failed"
        try:
            result = await run_build(*args, **kwargs)
            outcome = "succeeded"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            metrics.build_finished(outcome, time.monotonic() - started)

    return measured
