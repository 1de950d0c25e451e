"""Users, invitations, tokens, sessions, signing keys, memberships and the audit log."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from skyforge.adapters.sql.repositories.base import SqlRepository, utc
from skyforge.adapters.sql.tables import (
    api_tokens,
    audit_log,
    invitations,
    memberships,
    oidc_logins,
    refresh_tokens,
    signing_keys,
    user_identities,
    users,
)
from skyforge.identity.model import (
    ApiToken,
    AuditRecord,
    Invitation,
    Membership,
    OidcLogin,
    RefreshToken,
    SigningKey,
    User,
)
from skyforge.identity.permissions import Role, Scope

_TIMES = (
    "created_at",
    "expires_at",
    "accepted_at",
    "used_at",
    "revoked_at",
    "last_used_at",
    "retire_at",
    "expire_at",
    "at",
)


def _values(row: Any) -> dict[str, Any]:
    """A row as constructor arguments, with every time made aware (SQLite forgets the zone)."""
    values = dict(row._mapping)
    for name in _TIMES:
        if name in values:
            values[name] = utc(values[name])
    return values


class SqlUserRepository(SqlRepository):
    async def add(self, user: User) -> None:
        await self.conn.execute(insert(users).values(**dataclasses.asdict(user)))

    async def get(self, user_id: str) -> User | None:
        return await self._one(select(users).where(users.c.id == user_id))

    async def by_email(self, email: str) -> User | None:
        return await self._one(select(users).where(users.c.email == email))

    async def by_identity(self, issuer: str, subject: str) -> User | None:
        query = (
            select(users)
            .join(user_identities, user_identities.c.user_id == users.c.id)
            .where(user_identities.c.issuer == issuer, user_identities.c.subject == subject)
        )
        return await self._one(query)

    async def link_identity(self, user_id: str, issuer: str, subject: str) -> None:
        await self.conn.execute(
            insert(user_identities).values(issuer=issuer, subject=subject, user_id=user_id)
        )

    async def count(self) -> int:
        return int((await self.conn.execute(select(func.count()).select_from(users))).scalar() or 0)

    async def first_admin(self) -> User | None:
        query = select(users).where(users.c.org_role == "admin").order_by(users.c.id).limit(1)
        return await self._one(query)

    async def _one(self, query: Any) -> User | None:
        row = (await self.conn.execute(query)).first()
        return None if row is None else User(**_values(row))


class SqlInvitationRepository(SqlRepository):
    async def add(self, invitation: Invitation) -> None:
        await self.conn.execute(insert(invitations).values(**dataclasses.asdict(invitation)))

    async def by_hash(self, token_hash: str) -> Invitation | None:
        row = (
            await self.conn.execute(
                select(invitations).where(invitations.c.token_hash == token_hash)
            )
        ).first()
        return None if row is None else Invitation(**_values(row))

    async def pending_for(self, email: str, at: datetime) -> Invitation | None:
        row = (
            await self.conn.execute(
                select(invitations)
                .where(
                    invitations.c.email == email,
                    invitations.c.accepted_at.is_(None),
                    invitations.c.expires_at > at,
                )
                .order_by(invitations.c.id.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else Invitation(**_values(row))

    async def save(self, invitation: Invitation) -> None:
        await self.conn.execute(
            update(invitations)
            .where(invitations.c.id == invitation.id)
            .values(**dataclasses.asdict(invitation))
        )


def _token(row: Any) -> ApiToken:
    values = _values(row)
    values["scope"] = Scope(values["scope"])
    return ApiToken(**values)


class SqlTokenRepository(SqlRepository):
    async def add(self, token: ApiToken) -> None:
        await self.conn.execute(insert(api_tokens).values(**dataclasses.asdict(token)))

    async def by_hash(self, token_hash: str) -> ApiToken | None:
        row = (
            await self.conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash))
        ).first()
        return None if row is None else _token(row)

    async def get(self, token_id: str) -> ApiToken | None:
        row = (
            await self.conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))
        ).first()
        return None if row is None else _token(row)

    async def of_user(self, user_id: str) -> list[ApiToken]:
        rows = await self.conn.execute(
            select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
        )
        return [_token(r) for r in rows]

    async def save(self, token: ApiToken) -> None:
        await self.conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token.id)
            .values(**dataclasses.asdict(token))
        )

    async def count(self) -> int:
        return int(
            (await self.conn.execute(select(func.count()).select_from(api_tokens))).scalar() or 0
        )


class SqlRefreshTokenRepository(SqlRepository):
    async def add(self, token: RefreshToken) -> None:
        await self.conn.execute(insert(refresh_tokens).values(**dataclasses.asdict(token)))

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        row = (
            await self.conn.execute(
                select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
            )
        ).first()
        return None if row is None else RefreshToken(**_values(row))

    async def spend(self, token_id: str, at: datetime) -> bool:
        result = await self.conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.id == token_id, refresh_tokens.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(result.rowcount == 1)

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        await self.conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def family_live(self, family_id: str, user_id: str) -> bool:
        c = refresh_tokens.c
        row = (
            await self.conn.execute(
                select(
                    func.count(), func.count(c.revoked_at), func.min(c.user_id), func.max(c.user_id)
                ).where(c.family_id == family_id)
            )
        ).one()
        count, revoked, first, last = row
        return bool(count) and not revoked and first == last == user_id


class SqlSigningKeyRepository(SqlRepository):
    async def add(self, key: SigningKey) -> None:
        await self.conn.execute(insert(signing_keys).values(**dataclasses.asdict(key)))

    async def all(self) -> list[SigningKey]:
        rows = await self.conn.execute(select(signing_keys).order_by(signing_keys.c.created_at))
        return [SigningKey(**_values(r)) for r in rows]

    async def save_sealed(self, key: SigningKey) -> None:
        await self.conn.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == key.kid)
            .values(sealed_private_jwk=key.sealed_private_jwk)
        )

    async def delete_expired(self, at: datetime) -> None:
        await self.conn.execute(delete(signing_keys).where(signing_keys.c.expire_at <= at))


def _membership(row: Any) -> Membership:
    values = _values(row)
    values["role"] = Role(values["role"])
    return Membership(**values)


class SqlMembershipRepository(SqlRepository):
    async def get(self, project_id: str, user_id: str) -> Membership | None:
        row = (
            await self.conn.execute(
                select(memberships).where(
                    memberships.c.project_id == project_id, memberships.c.user_id == user_id
                )
            )
        ).first()
        return None if row is None else _membership(row)

    async def of_project(self, project_id: str) -> list[Membership]:
        rows = await self.conn.execute(
            select(memberships)
            .where(memberships.c.project_id == project_id)
            .order_by(memberships.c.created_at)
        )
        return [_membership(r) for r in rows]

    async def project_ids_of(self, user_id: str) -> list[str]:
        rows = await self.conn.execute(
            select(memberships.c.project_id).where(memberships.c.user_id == user_id)
        )
        return [r.project_id for r in rows]

    async def save(self, membership: Membership) -> None:
        where = (
            memberships.c.project_id == membership.project_id,
            memberships.c.user_id == membership.user_id,
        )
        values = {**dataclasses.asdict(membership), "role": membership.role.value}
        done = await self.conn.execute(update(memberships).where(*where).values(**values))
        if not done.rowcount:
            await self.conn.execute(insert(memberships).values(**values))

    async def delete(self, membership: Membership) -> None:
        await self.conn.execute(
            delete(memberships).where(
                memberships.c.project_id == membership.project_id,
                memberships.c.user_id == membership.user_id,
            )
        )


class SqlAuditRepository(SqlRepository):
    """Append-only: records are written by the unit of work with each change, never edited."""

    async def add(self, record: AuditRecord) -> None:
        await self.conn.execute(insert(audit_log).values(**dataclasses.asdict(record)))

    async def page(
        self, project: str, after: str | None, limit: int, filters: dict[str, Any]
    ) -> list[AuditRecord]:
        return await self.org_page(after, limit, {**filters, "project": project})

    async def org_page(
        self, after: str | None, limit: int, filters: dict[str, Any]
    ) -> list[AuditRecord]:
        query = select(audit_log)
        if filters.get("project"):
            query = query.where(audit_log.c.project == filters["project"])
        if after:
            query = query.where(audit_log.c.id < after)
        if filters.get("action"):
            query = query.where(audit_log.c.action == filters["action"])
        if filters.get("actor"):
            query = query.where(audit_log.c.actor == filters["actor"])
        if filters.get("since"):
            query = query.where(audit_log.c.at >= filters["since"])
        if filters.get("until"):
            query = query.where(audit_log.c.at < filters["until"])
        rows = await self.conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
        return [AuditRecord(**_values(r)) for r in rows]


class SqlOidcLoginRepository(SqlRepository):
    async def add(self, login: OidcLogin) -> None:
        await self.conn.execute(insert(oidc_logins).values(**dataclasses.asdict(login)))

    async def by_state(self, state_hash: str) -> OidcLogin | None:
        return await self._one(oidc_logins.c.state_hash == state_hash)

    async def by_poll(self, poll_hash: str) -> OidcLogin | None:
        return await self._one(oidc_logins.c.poll_hash == poll_hash)

    async def spend(self, login_id: str, at: datetime) -> bool:
        result = await self.conn.execute(
            update(oidc_logins)
            .where(oidc_logins.c.id == login_id, oidc_logins.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(result.rowcount == 1)

    async def save(self, login: OidcLogin) -> None:
        await self.conn.execute(
            update(oidc_logins)
            .where(oidc_logins.c.id == login.id)
            .values(**dataclasses.asdict(login))
        )

    async def delete(self, login_id: str) -> None:
        await self.conn.execute(delete(oidc_logins).where(oidc_logins.c.id == login_id))

    async def delete_expired(self, at: datetime) -> None:
        await self.conn.execute(delete(oidc_logins).where(oidc_logins.c.expires_at <= at))

    async def _one(self, where: Any) -> OidcLogin | None:
        row = (await self.conn.execute(select(oidc_logins).where(where))).first()
        return None if row is None else OidcLogin(**_values(row))
