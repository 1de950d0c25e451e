"""Read side of identity."""

from __future__ import annotations

from datetime import datetime

from skyforge.identity.model import AuditRecord
from skyforge.identity.ports import IdentityUnitOfWork


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
