"""Log drain use cases: add (validated, the target checked), remove, list."""

from __future__ import annotations

from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, NotFound
from skyforge.kernel.ids import new_id
from skyforge.logdrains.commands import AddLogDrain, RemoveLogDrain
from skyforge.logdrains.events import LogDrainAdded, LogDrainRemoved
from skyforge.logdrains.model import MAX_DRAINS, LogDrain, Target, parse_url, url_binding
from skyforge.logdrains.ports import (
    CheckTarget,
    Cipher,
    FindService,
    LogDrainsUnitOfWork,
    Position,
)


def url_of(drain: LogDrain, cipher: Cipher) -> str:
    """The drain's URL, opened (only developers and above are shown it)."""
    return cipher.open(drain.sealed_url, drain.binding).decode()


def target_of(drain: LogDrain, cipher: Cipher) -> Target:
    return parse_url(url_of(drain, cipher))


async def add_drain(
    cmd: AddLogDrain,
    uow: LogDrainsUnitOfWork,
    find_service: FindService,
    check_target: CheckTarget,
    position: Position,
    cipher: Cipher,
) -> LogDrain:
    """Forward the service's output from now on to `cmd.url`."""
    url = cmd.url.strip()
    target = parse_url(url)
    service = await find_service(cmd.project, cmd.service)
    await check_target(target)
    drain_id = new_id()
    drain = LogDrain(
        id=drain_id,
        service_id=service.id,
        project=service.project,
        service=service.name,
        sealed_url=cipher.seal(url.encode(), url_binding(drain_id)),
        created_at=now(),
        cursor=await position(service.key),
    )
    async with uow:
        existing = await uow.log_drains.of_service(service.id)
        if any(url_of(d, cipher) == url for d in existing):
            raise Conflict("this service already drains to that URL")
        if len(existing) >= MAX_DRAINS:
            raise Conflict(f"a service has at most {MAX_DRAINS} log drains")
        await uow.log_drains.add(drain)
        uow.emit(LogDrainAdded(service.project, service.name, drain.id, target.host))
        await uow.commit()
    return drain


async def reseal_urls(uow: LogDrainsUnitOfWork, cipher: Cipher) -> int:
    """After a master key rotation: every drain's URL sealed under the new key."""
    async with uow:
        drains = await uow.log_drains.all()
        for drain in drains:
            drain.sealed_url = cipher.seal(
                cipher.open(drain.sealed_url, drain.binding), drain.binding
            )
            await uow.log_drains.save_url(drain)
        await uow.commit()
    return len(drains)


async def remove_drain(
    cmd: RemoveLogDrain, uow: LogDrainsUnitOfWork, find_service: FindService
) -> None:
    """Stop forwarding to a drain and forget it."""
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        drain = await uow.log_drains.get(cmd.drain_id)
        if drain is None or drain.service_id != service.id:
            raise NotFound(f"no log drain {cmd.drain_id!r}")
        await uow.log_drains.delete(drain.id)
        uow.emit(LogDrainRemoved(service.project, service.name, drain.id))
        await uow.commit()


async def list_drains(
    project: str, service: str, uow: LogDrainsUnitOfWork, find_service: FindService
) -> list[LogDrain]:
    """A service's drains, oldest first."""
    found = await find_service(project, service)
    async with uow:
        return await uow.log_drains.of_service(found.id)
