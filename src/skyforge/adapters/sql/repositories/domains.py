"""Custom domains."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from skyforge.adapters.sql.repositories.base import SqlRepository, utc, utc_required
from skyforge.adapters.sql.tables import domains
from skyforge.domains.model import Domain, Status
from skyforge.kernel.errors import Conflict


def _domain(row: Any) -> Domain:
    return Domain(
        id=row.id,
        project_id=row.project_id,
        project=row.project_name,
        service_id=row.service_id,
        service=row.service_name,
        hostname=row.hostname,
        token=row.token,
        redirect_https=bool(row.redirect_https),
        status=Status(row.status),
        reason=row.reason,
        created_at=utc_required(row.created_at),
        verified_at=utc(row.verified_at),
    )


class SqlDomainRepository(SqlRepository):
    async def claims(self, hostname: str, *, for_update: bool = False) -> list[Domain]:
        query = select(domains).where(domains.c.hostname == hostname).order_by(domains.c.id)
        if for_update:
            query = query.with_for_update()
        return [_domain(r) for r in await self.conn.execute(query)]

    async def add(self, domain: Domain) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(domains).values(
                        id=domain.id,
                        project_id=domain.project_id,
                        project_name=domain.project,
                        service_id=domain.service_id,
                        service_name=domain.service,
                        hostname=domain.hostname,
                        token=domain.token,
                        redirect_https=domain.redirect_https,
                        status=domain.status.value,
                        reason=domain.reason,
                        created_at=domain.created_at,
                        verified_at=domain.verified_at,
                    )
                )
        except IntegrityError as exc:  # the same project claiming it twice at the same time
            raise Conflict(f"{domain.hostname} is already in use") from exc

    async def save(self, domain: Domain) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    update(domains)
                    .where(domains.c.id == domain.id)
                    .values(
                        status=domain.status.value,
                        reason=domain.reason,
                        redirect_https=domain.redirect_https,
                        verified_at=domain.verified_at,
                    )
                )
        except IntegrityError as exc:  # another claim of the name became ready meanwhile
            raise Conflict(f"{domain.hostname} is already in use") from exc

    async def remove(self, domain_id: str) -> None:
        await self.conn.execute(delete(domains).where(domains.c.id == domain_id))

    async def of_service(self, service_id: str) -> list[Domain]:
        query = select(domains).where(domains.c.service_id == service_id)
        return [_domain(r) for r in await self.conn.execute(query.order_by(domains.c.hostname))]

    async def all(self) -> list[Domain]:
        query = select(domains).order_by(domains.c.hostname)
        return [_domain(r) for r in await self.conn.execute(query)]
