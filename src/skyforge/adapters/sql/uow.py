"""The SQL unit of work: one transaction; events go to the outbox in it, then to the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skyforge.adapters.sql.jobs import SqlJobQueue
from skyforge.adapters.sql.repositories.databases import SqlDatabaseRepository
from skyforge.adapters.sql.repositories.deploys import (
    SqlBuildRepository,
    SqlDeployLogRepository,
    SqlDeployRepository,
    SqlReleaseRepository,
)
from skyforge.adapters.sql.repositories.domains import SqlDomainRepository
from skyforge.adapters.sql.repositories.identity import (
    SqlAuditRepository,
    SqlInvitationRepository,
    SqlMembershipRepository,
    SqlOidcLoginRepository,
    SqlRefreshTokenRepository,
    SqlSigningKeyRepository,
    SqlTokenRepository,
    SqlUserRepository,
)
from skyforge.adapters.sql.repositories.inbound_hooks import (
    SqlDeliveryRepository,
    SqlInboundHookRepository,
    SqlPreviewRepository,
)
from skyforge.adapters.sql.repositories.log_drains import SqlLogDrainRepository
from skyforge.adapters.sql.repositories.projects import SqlProjectRepository
from skyforge.adapters.sql.repositories.secrets import SqlSecretRepository
from skyforge.adapters.sql.repositories.services import SqlServiceRepository
from skyforge.adapters.sql.repositories.webhooks import (
    SqlWebhookDeliveryRepository,
    SqlWebhookRepository,
)
from skyforge.adapters.sql.tables import outbox
from skyforge.identity.events import LoginFailed, LoginLockedOut
from skyforge.identity.model import AuditRecord
from skyforge.kernel import context
from skyforge.kernel.clock import now
from skyforge.kernel.ids import new_id
from skyforge.kernel.messages import Event

# Recorded though nobody is authenticated: the actor is the e-mail that was tried.
_LOGIN_ATTEMPTS = (LoginFailed, LoginLockedOut)


def audit_records(events: list[Event], ctx: context.RequestContext | None) -> list[AuditRecord]:
    """What a request changed, as audit records: who, what, when, from where (events hold no
    secret values, so neither does the diff). Failed logins and lock-outs too."""
    at = now()
    agent = ((ctx.user_agent or "")[:500] or None) if ctx is not None else None
    records = []
    for e in events:
        if ctx is not None and ctx.actor_id is not None:
            actor, actor_id, via = ctx.actor or "", ctx.actor_id, ctx.via or ""
        elif isinstance(e, _LOGIN_ATTEMPTS):
            actor, actor_id, via = e.email, "", "password"
        else:
            continue  # a change made by SkyForge itself (a worker), not by a caller
        records.append(
            AuditRecord(
                id=new_id(),
                at=at,
                actor=actor,
                actor_id=actor_id,
                via=via,
                action=e.type,
                target=e.target[:255],
                project=getattr(e, "project", None),
                diff=e.payload(),
                ip=ctx.ip if ctx is not None else getattr(e, "ip", None),
                user_agent=agent,
                request_id=ctx.request_id if ctx is not None else None,
            )
        )
    return records


Publish = Callable[[list[Event]], Awaitable[None]]


async def _nothing(_events: list[Event]) -> None:
    return None


class SqlUnitOfWork:
    projects: SqlProjectRepository
    services: SqlServiceRepository
    builds: SqlBuildRepository
    deploys: SqlDeployRepository
    releases: SqlReleaseRepository
    deploy_logs: SqlDeployLogRepository
    tokens: SqlTokenRepository
    jobs: SqlJobQueue
    users: SqlUserRepository
    invitations: SqlInvitationRepository
    refresh_tokens: SqlRefreshTokenRepository
    signing_keys: SqlSigningKeyRepository
    memberships: SqlMembershipRepository
    audit: SqlAuditRepository
    oidc_logins: SqlOidcLoginRepository
    secrets: SqlSecretRepository
    databases: SqlDatabaseRepository
    domains: SqlDomainRepository
    webhooks: SqlWebhookRepository
    webhook_deliveries: SqlWebhookDeliveryRepository
    inbound_hooks: SqlInboundHookRepository
    inbound_deliveries: SqlDeliveryRepository
    previews: SqlPreviewRepository
    log_drains: SqlLogDrainRepository

    def __init__(self, engine: AsyncEngine, publish: Publish = _nothing) -> None:
        self.engine = engine
        self.publish = publish
        self.events: list[Event] = []
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        conn = self._conn = await self.engine.connect()
        self.events = []
        self.projects = SqlProjectRepository(conn)
        self.services = SqlServiceRepository(conn)
        self.builds = SqlBuildRepository(conn)
        self.deploys = SqlDeployRepository(conn)
        self.releases = SqlReleaseRepository(conn)
        self.deploy_logs = SqlDeployLogRepository(conn)
        self.tokens = SqlTokenRepository(conn)
        self.jobs = SqlJobQueue(conn)
        self.users = SqlUserRepository(conn)
        self.invitations = SqlInvitationRepository(conn)
        self.refresh_tokens = SqlRefreshTokenRepository(conn)
        self.signing_keys = SqlSigningKeyRepository(conn)
        self.memberships = SqlMembershipRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.oidc_logins = SqlOidcLoginRepository(conn)
        self.secrets = SqlSecretRepository(conn)
        self.databases = SqlDatabaseRepository(conn)
        self.domains = SqlDomainRepository(conn)
        self.webhooks = SqlWebhookRepository(conn)
        self.webhook_deliveries = SqlWebhookDeliveryRepository(conn)
        self.inbound_hooks = SqlInboundHookRepository(conn)
        self.inbound_deliveries = SqlDeliveryRepository(conn)
        self.previews = SqlPreviewRepository(conn)
        self.log_drains = SqlLogDrainRepository(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.rollback()  # a no-op after commit
            await conn.close()

    def emit(self, event: Event) -> None:
        self.events.append(event)

    async def commit(self) -> None:
        assert self._conn is not None, "commit outside the unit of work"
        events, self.events = self.events, []
        if events:
            ctx = context.current.get()
            await self._conn.execute(
                insert(outbox),
                [
                    {
                        "id": new_id(),
                        "type": e.type,
                        "subject": e.subject,
                        "payload": e.payload(),
                        "created_at": now(),
                        "actor": ctx.actor if ctx is not None else None,
                    }
                    for e in events
                ],
            )
            for record in audit_records(events, ctx):
                await self.audit.add(record)
        await self._conn.commit()
        await self.publish(events)
