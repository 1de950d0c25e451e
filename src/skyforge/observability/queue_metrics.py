"""The job queue and the outbox as gauges, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.adapters.sql.tables import jobs, outbox
from skyforge.kernel.clock import now


class QueueCollector(Collector):
    """skyforge_job_queue_depth/oldest_age_seconds{kind}, skyforge_outbox_unpublished/lag."""

    def __init__(self, engine: AsyncEngine, kinds: Iterable[str]) -> None:
        self.engine = engine
        self.kinds = sorted(set(kinds))
        self._queued: dict[str, tuple[int, datetime | None]] = {}
        self._outbox: tuple[int, datetime | None] = (0, None)

    async def refresh(self) -> None:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(jobs.c.kind, func.count(), func.min(jobs.c.created_at))
                .where(jobs.c.status == "queued")
                .group_by(jobs.c.kind)
            )
            queued = {kind: (int(count), _utc(oldest)) for kind, count, oldest in rows}
            count, oldest = (
                await conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        self._queued = queued
        self._outbox = (int(count), _utc(oldest))

    def collect(self) -> Iterator[Metric]:
        at = now()
        depth = GaugeMetricFamily(
            "skyforge_job_queue_depth", "Jobs waiting to be claimed", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "skyforge_job_queue_oldest_age_seconds",
            "Age of the oldest job waiting to be claimed (0 when none waits)",
            labels=["kind"],
        )
        for kind in sorted(set(self.kinds) | set(self._queued)):
            count, oldest = self._queued.get(kind, (0, None))
            depth.add_metric([kind], count)
            age.add_metric([kind], _age(at, oldest))
        unpublished, oldest = self._outbox
        yield depth
        yield age
        yield GaugeMetricFamily(
            "skyforge_outbox_unpublished", "Outbox events not yet published", value=unpublished
        )
        yield GaugeMetricFamily(
            "skyforge_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event (0 when all are published)",
            value=_age(at, oldest),
        )


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _age(at: datetime, oldest: datetime | None) -> float:
    return max((at - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
