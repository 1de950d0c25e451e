"""The organization's audit log: every project's records, failed logins and lock-outs too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query

from skyforge.api.auth import Caller
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Instant, Limit, decode, page
from skyforge.api.rest.schemas.identity import AuditPage, AuditRead
from skyforge.identity import queries
from skyforge.identity.model import AuditRecord

router = APIRouter(prefix="/api/v1", tags=["audit"])


def audit_items(found: Sequence[AuditRecord]) -> list[AuditRead]:
    return [
        AuditRead(
            id=r.id,
            at=r.at,
            actor=r.actor,
            via=r.via,
            action=r.action,
            target=r.target,
            project=r.project,
            diff=r.diff,
            ip=r.ip,
            user_agent=r.user_agent,
            request_id=r.request_id,
        )
        for r in found
    ]


@router.get("/audit", response_model=AuditPage)
async def org_audit(
    platform: PlatformDep,
    caller: Caller,
    limit: Limit = 50,
    cursor: Cursor = None,
    project: str | None = Query(None, max_length=63),
    action: str | None = Query(None, max_length=100),
    actor: str | None = Query(None, max_length=254),
    since: Instant = None,
    until: Instant = None,
) -> dict[str, Any]:
    """Who did what, when and from where in the whole organization, newest first; failed
    logins (`auth.login_failed`) and lock-outs (`auth.locked_out`) name the e-mail tried as
    the actor. Organization admins only."""
    found = await queries.org_audit_page(
        caller,
        decode(cursor),
        limit,
        platform.uow(),
        project=project,
        action=action,
        actor=actor,
        since=since,
        until=until,
    )
    return page(audit_items(found), limit, found[-1].id if found else "")
