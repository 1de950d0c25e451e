"""The job queue in the database: enqueued with the change, claimed once by any worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.adapters.sql.repositories.base import SqlRepository
from skyforge.adapters.sql.tables import jobs
from skyforge.kernel import tracing
from skyforge.kernel.clock import now
from skyforge.kernel.ids import new_id

_CLAIM_LOCK = 0x5F5F0002


class SqlJobQueue(SqlRepository):
    """The enqueue side, inside a unit of work."""

    async def enqueue(self, kind: str, subject_id: str, serial_key: str) -> None:
        await self.conn.execute(
            insert(jobs).values(
                id=new_id(),
                kind=kind,
                subject_id=subject_id,
                serial_key=serial_key,
                status="queued",
                attempts=0,
                created_at=now(),
                traceparent=tracing.traceparent(),
            )
        )

    async def cancel_queued(self, kind: str, subject_id: str) -> None:
        await self.conn.execute(
            update(jobs)
            .where(jobs.c.kind == kind, jobs.c.subject_id == subject_id, jobs.c.status == "queued")
            .values(status="cancelled", finished_at=now())
        )


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    subject_id: str
    attempts: int
    traceparent: str | None = None


class SqlJobStore:
    """The worker side: claim with a lease, renew it, finish."""

    def __init__(self, engine: AsyncEngine, lease_seconds: float = 30.0) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)

    async def claim(self, worker: str) -> Job | None:
        """The oldest runnable job whose serial key has no live job running, or None."""
        at = now()
        claimable = or_(
            jobs.c.status == "queued", and_(jobs.c.status == "running", jobs.c.locked_until < at)
        )
        live = jobs.alias("live")
        busy = (
            select(live.c.id)
            .where(
                live.c.serial_key == jobs.c.serial_key,
                live.c.status == "running",
                live.c.locked_until >= at,
                live.c.id != jobs.c.id,
            )
            .exists()
        )
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Claims are short; one at a time keeps two workers off the same serial key.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
            row = (
                await conn.execute(
                    select(
                        jobs.c.id,
                        jobs.c.kind,
                        jobs.c.subject_id,
                        jobs.c.attempts,
                        jobs.c.traceparent,
                    )
                    .where(claimable, ~busy)
                    .order_by(jobs.c.created_at, jobs.c.id)
                    .limit(1)
                )
            ).first()
            if row is None:
                return None
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == row.id)
                .values(
                    status="running",
                    locked_by=worker,
                    locked_until=at + self.lease,
                    attempts=row.attempts + 1,
                )
            )
        return Job(row.id, row.kind, row.subject_id, row.attempts + 1, row.traceparent)

    async def renew(self, job_id: str, worker: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.locked_by == worker)
                .values(locked_until=now() + self.lease)
            )

    async def finish(self, job_id: str, status: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=status, finished_at=now(), locked_until=None)
            )

    async def release(self, job_id: str) -> None:
        """Give a job back (the worker is stopping): another worker may take it at once."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status="queued", locked_by=None, locked_until=None)
            )

    async def depth(self) -> int:
        async with self.engine.connect() as conn:
            query = select(jobs.c.id).where(jobs.c.status == "queued")
            return len((await conn.execute(query)).all())
