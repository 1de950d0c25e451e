"""What the projects context needs: its repository, reached through the unit of work."""

from __future__ import annotations

from typing import Protocol

from skyforge.kernel.uow import UnitOfWork
from skyforge.projects.model import Project


class ProjectRepository(Protocol):
    async def add(self, project: Project) -> None: ...
    async def get(self, name: str) -> Project | None: ...
    async def delete(self, project: Project) -> None: ...
    async def page(
        self, after: str | None, limit: int, only: set[str] | None = None
    ) -> list[Project]: ...


class ProjectsUnitOfWork(UnitOfWork, Protocol):
    @property
    def projects(self) -> ProjectRepository: ...
