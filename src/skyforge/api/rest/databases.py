"""Managed databases of a project: /api/v1/projects/{project}/databases."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from skyforge.api.auth import allow
from skyforge.api.deps import PlatformDep
from skyforge.api.rest.schemas.databases import (
    AttachmentCreate,
    AttachmentRead,
    BackupList,
    BackupRead,
    DatabaseCreate,
    DatabaseDelete,
    DatabaseList,
    DatabaseRead,
    RestoreCreate,
)
from skyforge.databases import queries
from skyforge.databases.commands import (
    AttachDatabase,
    BackUpDatabase,
    CreateDatabase,
    DeleteDatabase,
    DetachDatabase,
    RestoreDatabase,
    RotateDatabase,
)
from skyforge.databases.model import Attachment, Database
from skyforge.databases.ports import BackupInfo
from skyforge.projects import queries as project_queries

router = APIRouter(prefix="/api/v1/projects/{project}/databases", tags=["databases"])
READ = [Depends(allow("database.read"))]
MANAGE = [Depends(allow("database.manage"))]


def attachment(a: Attachment) -> AttachmentRead:
    return AttachmentRead(service=a.service, var=a.var, created_at=a.created_at)


def read(db: Database, attachments: list[Attachment] | None = None) -> DatabaseRead:
    return DatabaseRead(
        name=db.name,
        engine=db.engine,
        status=db.status,
        reason=db.reason,
        resource=db.resource,
        key_prefix=db.resource + ":" if db.engine == "redis" else None,
        attachments=[attachment(a) for a in attachments or []],
        created_at=db.created_at,
        updated_at=db.updated_at,
    )


def backup(b: BackupInfo) -> BackupRead:
    return BackupRead(id=b.id, size=b.size, sha256=b.sha256, created_at=b.created_at)


@router.get("", response_model=DatabaseList, dependencies=READ)
async def list_databases(project: str, platform: PlatformDep) -> DatabaseList:
    """A project's databases and their states; never credentials."""
    await project_queries.get_project(project, platform.uow())
    found = await queries.list_databases(project, platform.uow())
    return DatabaseList(items=[read(db) for db in found])


@router.post("", status_code=202, response_model=DatabaseRead, dependencies=MANAGE)
async def create_database(
    project: str, body: DatabaseCreate, platform: PlatformDep
) -> DatabaseRead:
    """Ask for a database: 202 pending; a job provisions it (ready, or failed with a reason)."""
    return read(await platform.bus.handle(CreateDatabase(project, body.name, body.engine)))


@router.get("/{name}", response_model=DatabaseRead, dependencies=READ)
async def get_database(project: str, name: str, platform: PlatformDep) -> DatabaseRead:
    """One database, its state and the services it is attached to."""
    return read(*await queries.get_database(project, name, platform.uow()))


@router.delete("/{name}", status_code=204, dependencies=[Depends(allow("database.delete"))])
async def delete_database(
    project: str, name: str, body: DatabaseDelete, platform: PlatformDep
) -> Response:
    """Detach, back up (PostgreSQL; backups are kept) and drop a database: confirm its name."""
    await platform.bus.handle(DeleteDatabase(project, name, body.confirm))
    return Response(status_code=204)


@router.post(
    "/{name}/attachments", status_code=201, response_model=AttachmentRead, dependencies=MANAGE
)
async def attach(
    project: str, name: str, body: AttachmentCreate, platform: PlatformDep
) -> AttachmentRead:
    """Give a service the URL as a secret of that service; it gets a new release."""
    command = AttachDatabase(project, name, body.service, body.var)
    return attachment(await platform.bus.handle(command))


@router.delete("/{name}/attachments/{service}", status_code=204, dependencies=MANAGE)
async def detach(project: str, name: str, service: str, platform: PlatformDep) -> Response:
    """Remove the URL from the service; it gets a new release."""
    await platform.bus.handle(DetachDatabase(project, name, service))
    return Response(status_code=204)


@router.post("/{name}/rotate", response_model=DatabaseRead, dependencies=MANAGE)
async def rotate(project: str, name: str, platform: PlatformDep) -> DatabaseRead:
    """New credentials, data kept; attached services get a new release with them."""
    await platform.bus.handle(RotateDatabase(project, name))
    return read(*await queries.get_database(project, name, platform.uow()))


@router.get("/{name}/backups", response_model=BackupList, dependencies=READ)
async def list_backups(project: str, name: str, platform: PlatformDep) -> BackupList:
    """A database's backups, oldest first."""
    servers = platform.databases.deps.servers
    found = await queries.list_backups(project, name, platform.uow(), servers)
    return BackupList(items=[backup(b) for b in found])


@router.post("/{name}/backups", status_code=201, response_model=BackupRead, dependencies=MANAGE)
async def back_up(project: str, name: str, platform: PlatformDep) -> BackupRead:
    """Back up a PostgreSQL database now."""
    return backup(await platform.bus.handle(BackUpDatabase(project, name)))


@router.post("/{name}/restore", status_code=202, response_model=DatabaseRead, dependencies=MANAGE)
async def restore(
    project: str, name: str, body: RestoreCreate, platform: PlatformDep
) -> DatabaseRead:
    """Make a NEW database from a backup: 202 pending, like a create."""
    return read(await platform.bus.handle(RestoreDatabase(project, name, body.backup, body.into)))
