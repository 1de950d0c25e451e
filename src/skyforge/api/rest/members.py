"""Project members and the project's audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from skyforge.api.auth import Caller, allow
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Instant, Limit, decode, page
from skyforge.api.rest.audit import audit_items
from skyforge.api.rest.schemas.identity import (
    AuditPage,
    MemberIn,
    MemberPage,
    MemberRead,
    MemberUpdate,
)
from skyforge.identity import queries
from skyforge.identity.commands import AddMember, ChangeMember, RemoveMember
from skyforge.identity.handlers import members

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["members"])


@router.get("/members", response_model=MemberPage)
async def list_members(project: str, platform: PlatformDep, caller: Caller) -> dict[str, Any]:
    """Who has which role in the project."""
    found = await members.list_members(caller, project, platform.uow(), platform.project_id_of)
    items = [
        MemberRead(email=u.email, name=u.name, role=m.role.value, since=m.created_at)
        for m, u in found
    ]
    return {"items": items, "next_cursor": None}


@router.post("/members", status_code=201, response_model=MemberRead)
async def add_member(
    project: str, body: MemberIn, platform: PlatformDep, caller: Caller
) -> MemberRead:
    """Give a user a role in the project (project admins and owners)."""
    m, user = await platform.bus.handle(AddMember(caller, project, body.email, body.role))
    return MemberRead(email=user.email, name=user.name, role=m.role.value, since=m.created_at)


@router.patch("/members/{email}", response_model=MemberRead)
async def change_member(
    project: str, email: str, body: MemberUpdate, platform: PlatformDep, caller: Caller
) -> MemberRead:
    """Change a member's role."""
    m, user = await platform.bus.handle(ChangeMember(caller, project, email, body.role))
    return MemberRead(email=user.email, name=user.name, role=m.role.value, since=m.created_at)


@router.delete("/members/{email}", status_code=204)
async def remove_member(
    project: str, email: str, platform: PlatformDep, caller: Caller
) -> Response:
    """Take a user out of the project."""
    await platform.bus.handle(RemoveMember(caller, project, email))
    return Response(status_code=204)


@router.get("/audit", response_model=AuditPage, dependencies=[Depends(allow("audit.read"))])
async def audit(
    project: str,
    platform: PlatformDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    action: str | None = Query(None, max_length=100),
    actor: str | None = Query(None, max_length=254),
    since: Instant = None,
    until: Instant = None,
) -> dict[str, Any]:
    """Who did what, when and from where in the project, newest first (read-only)."""
    found = await queries.audit_page(
        project,
        decode(cursor),
        limit,
        platform.uow(),
        action=action,
        actor=actor,
        since=since,
        until=until,
    )
    return page(audit_items(found), limit, found[-1].id if found else "")
