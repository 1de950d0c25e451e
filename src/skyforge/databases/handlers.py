"""Database use cases: create (a job provisions it), attach, detach, rotate, back up, delete."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from skyforge.databases.commands import (
    AttachDatabase,
    BackUpDatabase,
    CreateDatabase,
    DeleteDatabase,
    DetachDatabase,
    RestoreDatabase,
    RotateDatabase,
)
from skyforge.databases.events import (
    DatabaseAttached,
    DatabaseBackedUp,
    DatabaseDeleted,
    DatabaseDetached,
    DatabaseFailed,
    DatabaseReady,
    DatabaseRequested,
    DatabaseRotated,
)
from skyforge.databases.model import (
    ENGINES,
    Attachment,
    Database,
    binding,
    check_engine,
    resource_name,
)
from skyforge.databases.ports import (
    PROVISION_JOB,
    BackupInfo,
    Cipher,
    DatabasesUnitOfWork,
    FindProject,
    Servers,
    ServiceExists,
    SetSecret,
    UnsetSecret,
)
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, Invalid, NotFound
from skyforge.kernel.ids import new_id


@dataclass
class Deps:
    """What every database use case needs; bootstrap builds one."""

    uow: Callable[[], DatabasesUnitOfWork]
    servers: Servers
    cipher: Cipher
    find_project: FindProject
    service_exists: ServiceExists
    set_secret: SetSecret
    unset_secret: UnsetSecret


async def _get(deps: Deps, project: str, name: str) -> Database:
    async with deps.uow() as uow:
        found = await uow.databases.get(project, name)
    if found is None:
        raise NotFound(f"no database named {name!r} in project {project!r}")
    return found


def _url(deps: Deps, db: Database) -> str:
    if not db.ready or db.sealed is None:
        raise Conflict(f"database {db.name} is {db.status}, not ready")
    return deps.cipher.open(db.sealed, binding(db.id)).decode()


async def _request(
    deps: Deps, project: str, name: str, engine: str, source: str | None
) -> Database:
    resource = resource_name(project, name)
    deps.servers.check(engine)
    ref = await deps.find_project(project)
    at = now()
    db = Database(new_id(), ref.id, ref.name, name, engine, resource, "pending", at, at)
    db.restore_from = source
    async with deps.uow() as uow:
        if await uow.databases.get(project, name) is not None:
            raise Conflict(f"a database named {name!r} already exists in project {project!r}")
        if await uow.databases.by_resource(resource) is not None:
            raise Conflict(f"another database already uses the server name {resource}")
        await uow.databases.add(db)
        await uow.jobs.enqueue(PROVISION_JOB, db.id, f"database:{db.id}")
        uow.emit(DatabaseRequested(project=project, name=name, engine=engine))
        await uow.commit()
    return db


async def create_database(cmd: CreateDatabase, deps: Deps) -> Database:
    """Record a pending database and queue the job that provisions it."""
    return await _request(deps, cmd.project, cmd.name, check_engine(cmd.engine), None)


async def provision(database_id: str, deps: Deps) -> None:
    """The job: create (or restore) the database on its server; ready, or failed with a reason."""
    async with deps.uow() as uow:
        db = await uow.databases.by_id(database_id)
    if db is None or db.status != "pending":
        return
    try:
        if db.restore_from:
            source, _, backup = db.restore_from.partition("/")
            url = await deps.servers.restore(source, backup, db.resource)
        else:
            url = await deps.servers.create(db.engine, db.resource)
    except Exception as exc:  # any failure is the database's state
        db.failed(getattr(exc, "detail", None) or type(exc).__name__, now())
    else:
        db.provisioned(deps.cipher.seal(url.encode(), binding(db.id)), now())
    async with deps.uow() as uow:
        if await uow.databases.by_id(database_id) is None:  # deleted meanwhile
            if db.ready:
                await deps.servers.delete(db.engine, db.resource)
            return
        await uow.databases.save(db)
        if db.ready:
            uow.emit(DatabaseReady(project=db.project, name=db.name, engine=db.engine))
        else:
            uow.emit(DatabaseFailed(project=db.project, name=db.name, reason=db.reason or ""))
        await uow.commit()


async def attach_database(cmd: AttachDatabase, deps: Deps) -> Attachment:
    """Give a service the database's URL as a service-scoped secret (a new release)."""
    db = await _get(deps, cmd.project, cmd.name)
    var = cmd.var or ENGINES[db.engine]
    if not await deps.service_exists(cmd.project, cmd.service):
        raise Invalid(f"no service named {cmd.service!r} in project {cmd.project!r}")
    url = _url(deps, db)
    async with deps.uow() as uow:
        # Secret names are unique per project: one variable name, one attachment.
        taken = await uow.databases.attachment_of_var(db.project_id, var)
        if taken is not None and (taken.database_id, taken.service) != (db.id, cmd.service):
            raise Conflict(
                f"{var} is already given to service {taken.service} by a database attachment: "
                f"choose another variable name (e.g. as {var.removesuffix('_URL')}_2_URL)"
            )
        for a in await uow.databases.attachments(db.id):
            if a.service == cmd.service and a.var != var:
                raise Conflict(f"database {db.name} is already attached to {a.service} as {a.var}")
    await deps.set_secret(cmd.project, var, url, cmd.service)
    attachment = Attachment(db.id, db.project_id, cmd.service, var, now())
    async with deps.uow() as uow:
        if taken is None:
            await uow.databases.attach(attachment)
        uow.emit(DatabaseAttached(project=cmd.project, name=db.name, service=cmd.service, var=var))
        await uow.commit()
    return attachment


async def detach_database(cmd: DetachDatabase, deps: Deps) -> None:
    """Remove the service's secret holding the URL (a new release) and the attachment."""
    db = await _get(deps, cmd.project, cmd.name)
    async with deps.uow() as uow:
        found = [a for a in await uow.databases.attachments(db.id) if a.service == cmd.service]
    if not found:
        raise NotFound(f"database {db.name} is not attached to {cmd.service!r}")
    await _detach(deps, db, found[0])


async def _detach(deps: Deps, db: Database, a: Attachment) -> None:
    with contextlib.suppress(NotFound):  # someone deleted the secret already
        await deps.unset_secret(db.project, a.var)
    async with deps.uow() as uow:
        await uow.databases.detach(db.id, a.service)
        uow.emit(DatabaseDetached(project=db.project, name=db.name, service=a.service))
        await uow.commit()


async def rotate_database(cmd: RotateDatabase, deps: Deps) -> Database:
    """New credentials, data untouched; every attached service gets them (a new release)."""
    db = await _get(deps, cmd.project, cmd.name)
    _url(deps, db)
    url = await deps.servers.rotate(db.engine, db.resource)
    db.provisioned(deps.cipher.seal(url.encode(), binding(db.id)), now())
    async with deps.uow() as uow:
        await uow.databases.save(db)
        attachments = await uow.databases.attachments(db.id)
        uow.emit(DatabaseRotated(project=db.project, name=db.name))
        await uow.commit()
    for a in attachments:
        await deps.set_secret(db.project, a.var, url, a.service)
    return db


async def back_up_database(cmd: BackUpDatabase, deps: Deps) -> BackupInfo:
    """Dump a ready PostgreSQL database into the backup store now."""
    db = await _get(deps, cmd.project, cmd.name)
    return await back_up(db, deps)


async def back_up(db: Database, deps: Deps) -> BackupInfo:
    """Dump one database (the scheduled job and the on-demand command)."""
    if db.engine != "postgres":
        raise Invalid(f"only PostgreSQL databases have backups; {db.name} is {db.engine}")
    _url(deps, db)
    info = await deps.servers.backup(db.resource)
    async with deps.uow() as uow:
        uow.emit(DatabaseBackedUp(project=db.project, name=db.name, backup=info.id))
        await uow.commit()
    return info


async def restore_database(cmd: RestoreDatabase, deps: Deps) -> Database:
    """Queue a NEW database made from one of this database's backups."""
    source = await _get(deps, cmd.project, cmd.name)
    if source.engine != "postgres":
        raise Invalid("only PostgreSQL databases have backups")
    if cmd.backup not in {b.id for b in await deps.servers.backups(source.resource)}:
        raise NotFound(f"database {source.name} has no backup {cmd.backup[:80]!r}")
    return await _request(
        deps, cmd.project, cmd.into, "postgres", f"{source.resource}/{cmd.backup}"
    )


async def delete_database(cmd: DeleteDatabase, deps: Deps) -> BackupInfo | None:
    """Detach, take a final backup (PostgreSQL; backups are kept), drop it; the final backup."""
    db = await _get(deps, cmd.project, cmd.name)
    if cmd.confirm != db.name:
        raise Invalid(f"type the database's name ({db.name}) in 'confirm' to delete it")
    final = await back_up(db, deps) if db.engine == "postgres" and db.ready else None
    async with deps.uow() as uow:
        attachments = await uow.databases.attachments(db.id)
    for a in attachments:
        await _detach(deps, db, a)
    await deps.servers.delete(db.engine, db.resource)
    async with deps.uow() as uow:
        await uow.databases.delete(db.id)
        uow.emit(DatabaseDeleted(project=db.project, name=db.name))
        await uow.commit()
    return final


async def reseal_credentials(deps: Deps) -> int:
    """Seal every stored URL again under the active master key (after a rotation); how many."""
    async with deps.uow() as uow:
        found = await uow.databases.sealed()
        for db in found:
            assert db.sealed is not None
            url = deps.cipher.open(db.sealed, binding(db.id))
            db.sealed = deps.cipher.seal(url, binding(db.id))
            await uow.databases.save(db)
        await uow.commit()
    return len(found)
