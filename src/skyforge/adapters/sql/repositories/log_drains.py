"""Log drains, and the lease that lets one replica forward each of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from skyforge.adapters.sql.repositories.base import SqlRepository, utc, utc_required
from skyforge.adapters.sql.tables import log_drains
from skyforge.logdrains.model import LogDrain


def _drain(row: Any) -> LogDrain:
    return LogDrain(
        id=row.id,
        service_id=row.service_id,
        project=row.project_name,
        service=row.service_name,
        sealed_url=row.sealed_url,
        created_at=utc_required(row.created_at),
        cursor=row.cursor,
        delivered=row.delivered,
        failures=row.failures,
        last_error=row.last_error,
        next_attempt_at=utc(row.next_attempt_at),
    )


class SqlLogDrainRepository(SqlRepository):
    async def add(self, drain: LogDrain) -> None:
        await self.conn.execute(
            insert(log_drains).values(
                id=drain.id,
                service_id=drain.service_id,
                project_name=drain.project,
                service_name=drain.service,
                sealed_url=drain.sealed_url,
                created_at=drain.created_at,
                cursor=drain.cursor,
                delivered=drain.delivered,
                failures=drain.failures,
            )
        )

    async def get(self, drain_id: str) -> LogDrain | None:
        row = (
            await self.conn.execute(select(log_drains).where(log_drains.c.id == drain_id))
        ).first()
        return None if row is None else _drain(row)

    async def of_service(self, service_id: str) -> list[LogDrain]:
        rows = await self.conn.execute(
            select(log_drains)
            .where(log_drains.c.service_id == service_id)
            .order_by(log_drains.c.created_at, log_drains.c.id)
        )
        return [_drain(row) for row in rows]

    async def all(self) -> list[LogDrain]:
        rows = await self.conn.execute(select(log_drains).order_by(log_drains.c.id))
        return [_drain(row) for row in rows]

    async def delete(self, drain_id: str) -> None:
        await self.conn.execute(delete(log_drains).where(log_drains.c.id == drain_id))

    async def claim(self, drain_id: str, owner: str, until: datetime, at: datetime) -> bool:
        """Take or renew the drain's lease; False when another replica holds it."""
        result = await self.conn.execute(
            update(log_drains)
            .where(
                and_(
                    log_drains.c.id == drain_id,
                    or_(
                        log_drains.c.locked_by.is_(None),
                        log_drains.c.locked_by == owner,
                        log_drains.c.locked_until < at,
                    ),
                )
            )
            .values(locked_by=owner, locked_until=until)
        )
        return result.rowcount == 1

    async def record(self, drain: LogDrain, owner: str) -> bool:
        """Save how far forwarding got, only while `owner` holds the lease."""
        result = await self.conn.execute(
            update(log_drains)
            .where(and_(log_drains.c.id == drain.id, log_drains.c.locked_by == owner))
            .values(
                cursor=drain.cursor,
                delivered=drain.delivered,
                failures=drain.failures,
                last_error=drain.last_error,
                next_attempt_at=drain.next_attempt_at,
            )
        )
        return result.rowcount == 1

    async def save_url(self, drain: LogDrain) -> None:
        await self.conn.execute(
            update(log_drains)
            .where(log_drains.c.id == drain.id)
            .values(sealed_url=drain.sealed_url)
        )

    async def release(self, owner: str) -> None:
        """Give up every lease of `owner` (a replica stopping)."""
        await self.conn.execute(
            update(log_drains)
            .where(log_drains.c.locked_by == owner)
            .values(locked_by=None, locked_until=None)
        )
