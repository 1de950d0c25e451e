"""The outbox, read side: unpublished rows in id order, for the relay; marked once delivered.

Rows are written by the unit of work in the transaction of the change (uow.py). The relay
reads them here, hands them to its sinks and marks `published_at` only for the rows every sink
accepted, so a crash between publishing and marking re-publishes (deduplicated downstream by
the envelope id), and nothing is ever marked that did not leave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skyforge.adapters.sql.tables import outbox
from skyforge.kernel.clock import now
from skyforge.kernel.stream import Envelope

# Any fixed number: the PostgreSQL advisory lock that makes one relay pass at a time.
_RELAY_LOCK = 0x5F5F0003

# Hands envelopes on in order; returns how many of them (a prefix) got through.
Deliver = Callable[[Sequence[Envelope]], Awaitable[int]]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite drops the zone


def envelope_of(row: Any) -> Envelope:
    return Envelope(
        id=row.id,
        type=row.type,
        subject=row.subject,
        time=_aware(row.created_at),
        actor=row.actor,
        payload=dict(row.payload or {}),
    )


class SqlOutbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def relay_once(self, deliver: Deliver, limit: int = 100) -> int | None:
        """One relay pass: read up to `limit` unpublished rows in id order, deliver them, mark
        the delivered prefix. Returns how many were read (None: another replica holds the
        relay lock), so the caller knows whether to look again at once.

        On PostgreSQL the whole pass runs in one transaction holding an advisory lock, so
        replicas never relay at the same time (which could reorder a subject's events). SQLite
        is one host and takes the write lock at BEGIN: reading and marking are two short
        transactions there, never one held open while NATS answers.
        """
        if self._postgres:
            async with self.engine.connect() as conn:
                await conn.begin()
                got = await conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK}
                )
                if not got.scalar():
                    await conn.rollback()
                    return None
                rows = await self._pending(conn, limit)
                if rows:
                    done = await deliver(rows)
                    await self._mark(conn, rows[:done])
                await conn.commit()
                return len(rows)
        async with self.engine.connect() as conn:
            await conn.begin()
            rows = await self._pending(conn, limit)
            await conn.commit()
        if not rows:
            return 0
        done = await deliver(rows)
        if done:
            async with self.engine.begin() as conn:
                await self._mark(conn, rows[:done])
        return len(rows)

    async def _pending(self, conn: AsyncConnection, limit: int) -> list[Envelope]:
        result = await conn.execute(
            select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
        )
        return [envelope_of(row) for row in result]

    async def _mark(self, conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
        if envelopes:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([e.id for e in envelopes]))
                .values(published_at=now())
            )

    async def prune(self, older_than: timedelta) -> int:
        """Forget rows published longer ago than `older_than` (kept a while for lag metrics)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(outbox.c.published_at < now() - older_than)
            )
        return int(result.rowcount or 0)

    async def lag(self) -> tuple[int, float]:
        """Unpublished rows, and the age in seconds of the oldest of them (0 when none)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        count, oldest = int(row[0]), row[1]
        age = 0.0 if oldest is None else max(0.0, (now() - _aware(oldest)).total_seconds())
        return count, age

    async def all(self) -> list[tuple[Envelope, datetime | None]]:
        """Every row kept, in id order, with when it was published (tests, diagnostics)."""
        async with self.engine.connect() as conn:
            result = await conn.execute(select(outbox).order_by(outbox.c.id))
            return [(envelope_of(r), r.published_at) for r in result]
