"""Inbound git-provider hooks, the delivery ids they saw, and pull-request previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from skyforge.adapters.sql.repositories.base import SqlRepository, utc_required
from skyforge.adapters.sql.tables import inbound_deliveries, inbound_hooks, previews
from skyforge.webhooks.inbound.model import InboundHook, Preview


def _hook(row: Any) -> InboundHook:
    return InboundHook(
        id=row.id,
        project_id=row.project_id,
        project=row.project_name,
        service_id=row.service_id,
        service=row.service_name,
        provider=row.provider,
        created_at=utc_required(row.created_at),
        sealed=row.sealed,
        secret_hash=row.secret_hash,
    )


class SqlInboundHookRepository(SqlRepository):
    async def add(self, hook: InboundHook) -> None:
        await self.conn.execute(
            insert(inbound_hooks).values(
                id=hook.id,
                project_id=hook.project_id,
                project_name=hook.project,
                service_id=hook.service_id,
                service_name=hook.service,
                provider=hook.provider,
                sealed=hook.sealed,
                secret_hash=hook.secret_hash,
                created_at=hook.created_at,
            )
        )

    async def get(self, hook_id: str) -> InboundHook | None:
        query = select(inbound_hooks).where(inbound_hooks.c.id == hook_id)
        row = (await self.conn.execute(query)).first()
        return None if row is None else _hook(row)

    async def of_service(self, service_id: str) -> list[InboundHook]:
        query = select(inbound_hooks).where(inbound_hooks.c.service_id == service_id)
        rows = await self.conn.execute(query.order_by(inbound_hooks.c.id))
        return [_hook(r) for r in rows]

    async def sealed(self) -> list[InboundHook]:
        query = select(inbound_hooks).where(inbound_hooks.c.sealed.is_not(None))
        return [_hook(r) for r in await self.conn.execute(query.order_by(inbound_hooks.c.id))]

    async def reseal(self, hook_id: str, sealed: bytes) -> None:
        await self.conn.execute(
            update(inbound_hooks).where(inbound_hooks.c.id == hook_id).values(sealed=sealed)
        )

    async def delete(self, hook_id: str) -> None:
        await self.conn.execute(
            delete(inbound_deliveries).where(inbound_deliveries.c.hook_id == hook_id)
        )
        await self.conn.execute(delete(inbound_hooks).where(inbound_hooks.c.id == hook_id))


class SqlDeliveryRepository(SqlRepository):
    async def record(self, hook_id: str, delivery_id: str, event: str, at: datetime) -> bool:
        """Insert the id; the primary key refuses a second copy, even one racing this one."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(inbound_deliveries).values(
                        hook_id=hook_id, delivery_id=delivery_id, event=event, received_at=at
                    )
                )
        except IntegrityError:
            return False
        return True

    async def forget(self, hook_id: str, delivery_id: str) -> None:
        await self.conn.execute(
            delete(inbound_deliveries).where(
                inbound_deliveries.c.hook_id == hook_id,
                inbound_deliveries.c.delivery_id == delivery_id,
            )
        )


def _preview(row: Any) -> Preview:
    return Preview(
        service_id=row.service_id,
        project_id=row.project_id,
        name=row.name,
        parent_service_id=row.parent_service_id,
        number=row.number,
        created_at=utc_required(row.created_at),
    )


class SqlPreviewRepository(SqlRepository):
    async def add(self, preview: Preview) -> None:
        await self.conn.execute(
            insert(previews).values(
                service_id=preview.service_id,
                project_id=preview.project_id,
                name=preview.name,
                parent_service_id=preview.parent_service_id,
                number=preview.number,
                created_at=preview.created_at,
            )
        )

    async def get(self, parent_service_id: str, number: int) -> Preview | None:
        query = select(previews).where(
            previews.c.parent_service_id == parent_service_id, previews.c.number == number
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _preview(row)

    async def of_parent(self, parent_service_id: str) -> list[Preview]:
        query = select(previews).where(previews.c.parent_service_id == parent_service_id)
        rows = await self.conn.execute(query.order_by(previews.c.number))
        return [_preview(r) for r in rows]

    async def delete(self, service_id: str) -> None:
        await self.conn.execute(delete(previews).where(previews.c.service_id == service_id))
