"""Project use cases."""

from __future__ import annotations

from collections.abc import Callable

from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, NotFound
from skyforge.kernel.ids import new_id
from skyforge.kernel.names import new_name
from skyforge.projects.commands import CreateProject, DeleteProject
from skyforge.projects.events import ProjectCreated, ProjectDeleted
from skyforge.projects.model import DEFAULT_ENVIRONMENT, Environment, Project
from skyforge.projects.ports import ProjectsUnitOfWork

UowFactory = Callable[[], ProjectsUnitOfWork]


async def create_project(cmd: CreateProject, uow: ProjectsUnitOfWork) -> Project:
    """Create a project with its production environment."""
    new_name(cmd.name, "project name")
    at = now()
    project = Project(new_id(), cmd.name, at, [Environment(new_id(), DEFAULT_ENVIRONMENT, at)])
    async with uow:
        if await uow.projects.get(cmd.name) is not None:
            raise Conflict(f"a project named {cmd.name!r} already exists")
        await uow.projects.add(project)
        uow.emit(ProjectCreated(project=project.name, project_id=project.id, owner_id=cmd.owner_id))
        await uow.commit()
    return project


async def delete_project(cmd: DeleteProject, uow: ProjectsUnitOfWork) -> None:
    """Delete a project and everything in it (its services stop at the next reconcile)."""
    async with uow:
        project = await uow.projects.get(cmd.name)
        if project is None:
            raise NotFound(f"no project named {cmd.name!r}")
        await uow.projects.delete(project)
        uow.emit(ProjectDeleted(project=project.name))
        await uow.commit()
