"""Projects: /api/v1/projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from skyforge.api.auth import Caller, allow
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Limit, decode, page
from skyforge.api.rest.schemas.projects import ProjectCreate, ProjectPage, ProjectRead
from skyforge.identity.model import Principal
from skyforge.kernel.errors import NotFound
from skyforge.kernel.names import dns_label
from skyforge.projects.commands import CreateProject, DeleteProject
from skyforge.projects.model import Project

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def read(p: Project) -> ProjectRead:
    return ProjectRead(
        id=p.id, name=p.name, environments=[e.name for e in p.environments], created_at=p.created_at
    )


@router.post("", status_code=201, response_model=ProjectRead)
async def create_project(
    body: ProjectCreate,
    platform: PlatformDep,
    caller: Annotated[Principal, Depends(allow("project.create"))],
) -> ProjectRead:
    """Create a project (with its production environment); its creator becomes its owner."""
    name = dns_label(body.name, "project name")
    return read(await platform.bus.handle(CreateProject(name, owner_id=caller.user_id)))


@router.get("", response_model=ProjectPage)
async def list_projects(
    caller: Caller, platform: PlatformDep, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, object]:
    """Projects, oldest first."""
    found = await platform.cache.visible_projects(caller, decode(cursor), limit)
    return page([read(p) for p in found], limit, found[-1].id if found else "")


@router.get("/{project}", response_model=ProjectRead, dependencies=[Depends(allow("project.read"))])
async def get_project(project: str, platform: PlatformDep) -> ProjectRead:
    """One project."""
    found = await platform.cache.project(project)
    if found is None:
        raise NotFound(f"no project named {project!r}")
    return read(found)


@router.delete("/{project}", status_code=204, dependencies=[Depends(allow("project.delete"))])
async def delete_project(project: str, platform: PlatformDep) -> Response:
    """Delete a project with all its services (their apps stop)."""
    await platform.bus.handle(DeleteProject(project))
    return Response(status_code=204)
