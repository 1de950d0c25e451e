"""Read side of projects."""

from __future__ import annotations

from skyforge.kernel.errors import NotFound
from skyforge.projects.model import Project
from skyforge.projects.ports import ProjectsUnitOfWork


async def get_project(name: str, uow: ProjectsUnitOfWork) -> Project:
    """One project by name."""
    async with uow:
        project = await uow.projects.get(name)
    if project is None:
        raise NotFound(f"no project named {name!r}")
    return project


async def list_projects(
    after: str | None, limit: int, uow: ProjectsUnitOfWork, only: set[str] | None = None
) -> list[Project]:
    """Projects in creation order, `limit` of them after the id `after` (only those in `only`)."""
    async with uow:
        return await uow.projects.page(after, limit, only)
