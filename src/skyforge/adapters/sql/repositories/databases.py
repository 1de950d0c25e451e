"""Managed databases and their attachments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from skyforge.adapters.sql.repositories.base import SqlRepository, utc_required
from skyforge.adapters.sql.tables import database_attachments, databases
from skyforge.databases.model import Attachment, Database
from skyforge.kernel.errors import Conflict


def _database(row: Any) -> Database:
    return Database(
        id=row.id,
        project_id=row.project_id,
        project=row.project_name,
        name=row.name,
        engine=row.engine,
        resource=row.resource,
        status=row.status,
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
        reason=row.reason,
        sealed=row.sealed,
        restore_from=row.restore_from,
    )


def _attachment(row: Any) -> Attachment:
    return Attachment(
        row.database_id, row.project_id, row.service_name, row.var, utc_required(row.created_at)
    )


class SqlDatabaseRepository(SqlRepository):
    async def _one(self, *where: Any, for_update: bool = False) -> Database | None:
        query = select(databases).where(*where)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return None if row is None else _database(row)

    async def get(self, project: str, name: str, *, for_update: bool = False) -> Database | None:
        return await self._one(
            databases.c.project_name == project, databases.c.name == name, for_update=for_update
        )

    async def by_id(self, database_id: str) -> Database | None:
        return await self._one(databases.c.id == database_id)

    async def by_resource(self, resource: str) -> Database | None:
        return await self._one(databases.c.resource == resource)

    async def _many(self, *where: Any) -> list[Database]:
        query = select(databases).where(*where).order_by(databases.c.created_at, databases.c.id)
        return [_database(row) for row in await self.conn.execute(query)]

    async def of_project(self, project: str) -> list[Database]:
        return await self._many(databases.c.project_name == project)

    async def ready(self, engine: str) -> list[Database]:
        return await self._many(databases.c.engine == engine, databases.c.status == "ready")

    async def sealed(self) -> list[Database]:
        return await self._many(databases.c.sealed.is_not(None))

    async def add(self, db: Database) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(databases).values(
                        id=db.id,
                        project_id=db.project_id,
                        project_name=db.project,
                        name=db.name,
                        engine=db.engine,
                        resource=db.resource,
                        status=db.status,
                        reason=db.reason,
                        sealed=db.sealed,
                        restore_from=db.restore_from,
                        created_at=db.created_at,
                        updated_at=db.updated_at,
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"a database named {db.name!r} already exists") from exc

    async def save(self, db: Database) -> None:
        await self.conn.execute(
            update(databases)
            .where(databases.c.id == db.id)
            .values(status=db.status, reason=db.reason, sealed=db.sealed, updated_at=db.updated_at)
        )

    async def delete(self, database_id: str) -> None:
        await self.conn.execute(
            delete(database_attachments).where(database_attachments.c.database_id == database_id)
        )
        await self.conn.execute(delete(databases).where(databases.c.id == database_id))

    async def attachments(self, database_id: str) -> list[Attachment]:
        query = (
            select(database_attachments)
            .where(database_attachments.c.database_id == database_id)
            .order_by(database_attachments.c.service_name)
        )
        return [_attachment(row) for row in await self.conn.execute(query)]

    async def attachment_of_var(self, project_id: str, var: str) -> Attachment | None:
        query = select(database_attachments).where(
            database_attachments.c.project_id == project_id, database_attachments.c.var == var
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _attachment(row)

    async def attach(self, a: Attachment) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(database_attachments).values(
                        database_id=a.database_id,
                        service_name=a.service,
                        project_id=a.project_id,
                        var=a.var,
                        created_at=a.created_at,
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"{a.var} is already given to a service by another attachment") from exc

    async def detach(self, database_id: str, service: str) -> None:
        await self.conn.execute(
            delete(database_attachments).where(
                database_attachments.c.database_id == database_id,
                database_attachments.c.service_name == service,
            )
        )
