"""Read side of deploys and releases."""

from __future__ import annotations

from skyforge.deploys.model import Deploy, Release
from skyforge.deploys.ports import DeploysUnitOfWork
from skyforge.kernel.errors import NotFound


async def get_deploy(service_id: str, deploy_id: str, uow: DeploysUnitOfWork) -> Deploy:
    """One deploy of a service."""
    async with uow:
        deploy = await uow.deploys.get(deploy_id)
    if deploy is None or deploy.service_id != service_id:
        raise NotFound(f"no deploy {deploy_id!r}")
    return deploy


async def list_deploys(
    service_id: str, after: str | None, limit: int, uow: DeploysUnitOfWork
) -> list[Deploy]:
    """A service's deploys, newest first."""
    async with uow:
        return await uow.deploys.page(service_id, after, limit)


async def list_releases(
    service_id: str, before: int | None, limit: int, uow: DeploysUnitOfWork
) -> list[Release]:
    """A service's releases, newest first."""
    async with uow:
        return await uow.releases.page(service_id, before, limit)


async def release_and_previous(
    service_id: str, version: int, uow: DeploysUnitOfWork
) -> tuple[Release, Release | None]:
    """Release `version` of a service and the one before it (None for the first)."""
    async with uow:
        release = await uow.releases.by_version(service_id, version)
        previous = await uow.releases.by_version(service_id, version - 1) if version > 1 else None
    if release is None:
        raise NotFound(f"no release v{version}")
    return release, previous


async def current_release(service_id: str, uow: DeploysUnitOfWork) -> Release | None:
    """The release that should be running (the newest)."""
    async with uow:
        return await uow.releases.current(service_id)


async def release_version(release_id: str, uow: DeploysUnitOfWork) -> int | None:
    """The number of a release (None when it no longer exists)."""
    async with uow:
        release = await uow.releases.get(release_id)
    return None if release is None else release.version


async def read_log(
    deploy_id: str, after_seq: int, limit: int, uow: DeploysUnitOfWork
) -> list[tuple[int, str]]:
    """Build and rollout output lines after `after_seq`."""
    async with uow:
        return await uow.deploy_logs.read(deploy_id, after_seq, limit)
