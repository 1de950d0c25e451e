"""Outgoing webhooks and their deliveries (the delivery workers' queue)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from skyforge.adapters.sql.repositories.base import SqlRepository, utc, utc_required
from skyforge.adapters.sql.tables import webhook_deliveries as deliveries
from skyforge.adapters.sql.tables import webhooks
from skyforge.webhooks.model import Attempt, Delivery, Status, Webhook


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row.id,
        project_id=row.project_id,
        project=row.project_name,
        url=row.url,
        events=tuple(row.events),
        active=bool(row.active),
        sealed_secret=bytes(row.sealed_secret),
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        project=row.project_name,
        event_id=row.event_id,
        event_type=row.event_type,
        body=row.body,
        status=Status(row.status),
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at),
        created_at=utc_required(row.created_at),
        delivered_at=utc(row.delivered_at),
        log=[Attempt.from_json(a) for a in row.log or []],
    )


def _outcome(d: Delivery) -> dict[str, Any]:
    last = d.last
    return {
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "delivered_at": d.delivered_at,
        "response_code": last.status_code if last else None,
        "latency_ms": last.latency_ms if last else None,
        "error": last.error if last else None,
        "log": [a.to_json() for a in d.log],
    }


class SqlWebhookRepository(SqlRepository):
    async def add(self, webhook: Webhook) -> None:
        await self.conn.execute(
            insert(webhooks).values(
                id=webhook.id,
                project_id=webhook.project_id,
                project_name=webhook.project,
                url=webhook.url,
                events=list(webhook.events),
                active=webhook.active,
                sealed_secret=webhook.sealed_secret,
                created_at=webhook.created_at,
                updated_at=webhook.updated_at,
            )
        )

    async def get(self, project: str, webhook_id: str) -> Webhook | None:
        query = select(webhooks).where(
            webhooks.c.id == webhook_id, webhooks.c.project_name == project
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _webhook(row)

    async def of_project(self, project: str) -> list[Webhook]:
        query = select(webhooks).where(webhooks.c.project_name == project).order_by(webhooks.c.id)
        return [_webhook(r) for r in await self.conn.execute(query)]

    async def all(self) -> list[Webhook]:
        return [_webhook(r) for r in await self.conn.execute(select(webhooks))]

    async def save(self, webhook: Webhook) -> None:
        await self.conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook.id)
            .values(
                url=webhook.url,
                events=list(webhook.events),
                active=webhook.active,
                sealed_secret=webhook.sealed_secret,
                updated_at=webhook.updated_at,
            )
        )

    async def remove(self, webhook_id: str) -> None:
        # Not left to ON DELETE CASCADE: SQLite enforces it only with foreign keys on.
        await self.conn.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))
        await self.conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))


class SqlWebhookDeliveryRepository(SqlRepository):
    async def add_once(self, delivery: Delivery) -> bool:
        values = {
            "id": delivery.id,
            "webhook_id": delivery.webhook_id,
            "project_name": delivery.project,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "body": delivery.body,
            "created_at": delivery.created_at,
            **_outcome(delivery),
        }
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(deliveries)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["webhook_id", "event_id"])
        )
        result = await self.conn.execute(statement)
        return bool(result.rowcount)

    async def get(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        query = select(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.webhook_id == webhook_id
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _delivery(row)

    async def page(self, webhook_id: str, before: str | None, limit: int) -> list[Delivery]:
        query = select(deliveries).where(deliveries.c.webhook_id == webhook_id)
        if before is not None:
            query = query.where(deliveries.c.id < before)
        query = query.order_by(deliveries.c.id.desc()).limit(limit)
        return [_delivery(r) for r in await self.conn.execute(query)]

    async def claim_due(
        self, worker: str, at: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        free = or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until < at)
        due = and_(
            deliveries.c.status == Status.PENDING.value, deliveries.c.next_attempt_at <= at, free
        )
        query = (
            select(deliveries).where(due).order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        )
        query = query.limit(limit)
        claimed = []
        for row in (await self.conn.execute(query)).all():
            # Conditional: of two workers reading the same row, one update matches it.
            result = await self.conn.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id, due)
                .values(locked_by=worker, locked_until=at + lease)
            )
            if result.rowcount:
                claimed.append(_delivery(row))
        return claimed

    async def finish(self, delivery: Delivery, worker: str) -> bool:
        result = await self.conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id, deliveries.c.locked_by == worker)
            .values(locked_by=None, locked_until=None, **_outcome(delivery))
        )
        return bool(result.rowcount)

    async def save(self, delivery: Delivery) -> None:
        await self.conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id)
            .values(locked_by=None, locked_until=None, **_outcome(delivery))
        )
