"""Read side of databases: states and attachments (never credentials), and backups."""

from __future__ import annotations

from datetime import datetime, timedelta

from skyforge.databases.model import Attachment, Database
from skyforge.databases.ports import BackupInfo, Cipher, DatabasesUnitOfWork, Servers
from skyforge.kernel.errors import NotFound


async def list_databases(project: str, uow: DatabasesUnitOfWork) -> list[Database]:
    """A project's databases, oldest first."""
    async with uow:
        return await uow.databases.of_project(project)


async def get_database(
    project: str, name: str, uow: DatabasesUnitOfWork
) -> tuple[Database, list[Attachment]]:
    """One database and where it is attached."""
    async with uow:
        db = await uow.databases.get(project, name)
        if db is None:
            raise NotFound(f"no database named {name!r} in project {project!r}")
        return db, await uow.databases.attachments(db.id)


async def list_backups(
    project: str, name: str, uow: DatabasesUnitOfWork, servers: Servers
) -> list[BackupInfo]:
    """A database's backups, oldest first."""
    db, _ = await get_database(project, name, uow)
    return await servers.backups(db.resource) if db.engine == "postgres" else []


async def due_for_backup(
    uow: DatabasesUnitOfWork, servers: Servers, at: datetime, interval: timedelta
) -> list[Database]:
    """Ready PostgreSQL databases whose newest backup is older than the interval (or none)."""
    async with uow:
        ready = await uow.databases.ready("postgres")
    due = []
    for db in ready:
        backups = await servers.backups(db.resource)
        if not backups or backups[-1].created_at <= at - interval:
            due.append(db)
    return due


async def key_ids_in_use(uow: DatabasesUnitOfWork, cipher: Cipher) -> set[str]:
    """The master keys the stored URLs need."""
    async with uow:
        return {cipher.key_id(db.sealed) for db in await uow.databases.sealed() if db.sealed}
