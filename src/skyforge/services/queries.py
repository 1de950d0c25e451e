"""Read side of services."""

from __future__ import annotations

from skyforge.kernel.errors import NotFound
from skyforge.services.model import Service
from skyforge.services.ports import ServicesUnitOfWork


async def get_service(project: str, name: str, uow: ServicesUnitOfWork) -> Service:
    """One service by project and name."""
    async with uow:
        service = await uow.services.get(project, name)
    if service is None:
        raise NotFound(f"no service named {name!r} in project {project!r}")
    return service


async def list_services(
    project: str, after: str | None, limit: int, uow: ServicesUnitOfWork
) -> list[Service]:
    """A project's services in creation order."""
    async with uow:
        return await uow.services.page(project, after, limit)


async def all_services(uow: ServicesUnitOfWork) -> list[Service]:
    """Every service (the reconciler's desired state)."""
    async with uow:
        return await uow.services.all()
