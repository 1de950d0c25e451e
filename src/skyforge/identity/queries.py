"""Read side of identity."""

from __future__ import annotations

from datetime import datetime

from skyforge.identity.handlers.access import require_scope
from skyforge.identity.model import AuditRecord, Principal
from skyforge.identity.ports import IdentityUnitOfWork
from skyforge.kernel.errors import Forbidden


async def audit_page(
    project: str,
    after: str | None,
    limit: int,
    uow: IdentityUnitOfWork,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditRecord]:
    """A project's audit records, newest first, filtered."""
    filters = {"action": action, "actor": actor, "since": since, "until": until}
    async with uow:
        return await uow.audit.page(project, after, limit, filters)


async def org_audit_page(
    principal: Principal,
    after: str | None,
    limit: int,
    uow: IdentityUnitOfWork,
    *,
    project: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditRecord]:
    """The whole organization's audit records (every project's, and those of no project:
    failed logins, lock-outs, tokens, invitations, sessions), newest first; organization
    admins only."""
    if not principal.org_admin:
        raise Forbidden("only organization admins read the organization's audit log")
    require_scope(principal, "audit.read")
    filters = {"project": project, "action": action, "actor": actor, "since": since}
    async with uow:
        return await uow.audit.org_page(after, limit, {**filters, "until": until})
