"""Projects: /api/v1/projects."""

from __future__ import annotations

from fastapi import APIRouter, Response

from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Limit, decode, page
from skyforge.api.rest.schemas.projects import ProjectCreate, ProjectPage, ProjectRead
from skyforge.kernel.names import dns_label
from skyforge.projects import queries
from skyforge.projects.commands import CreateProject, DeleteProject
from skyforge.projects.model import Project

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def read(p: Project) -> ProjectRead:
    return ProjectRead(
        id=p.id, name=p.name, environments=[e.name for e in p.environments], created_at=p.created_at
    )


@router.post("", status_code=201, response_model=ProjectRead)
async def create_project(body: ProjectCreate, platform: PlatformDep) -> ProjectRead:
    """Create a project (with its production environment)."""
    return read(await platform.bus.handle(CreateProject(dns_label(body.name, "project name"))))


@router.get("", response_model=ProjectPage)
async def list_projects(
    platform: PlatformDep, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, object]:
    """Projects, oldest first."""
    found = await queries.list_projects(decode(cursor), limit, platform.uow())
    return page([read(p) for p in found], limit, found[-1].id if found else "")


@router.get("/{project}", response_model=ProjectRead)
async def get_project(project: str, platform: PlatformDep) -> ProjectRead:
    """One project."""
    return read(await queries.get_project(project, platform.uow()))


@router.delete("/{project}", status_code=204)
async def delete_project(project: str, platform: PlatformDep) -> Response:
    """Delete a project with all its services (their apps stop)."""
    await platform.bus.handle(DeleteProject(project))
    return Response(status_code=204)
