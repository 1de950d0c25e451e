"""Secrets and their encrypted versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from skyforge.adapters.sql.repositories.base import SqlRepository, utc, utc_required
from skyforge.adapters.sql.tables import secret_versions, secrets
from skyforge.kernel.errors import Conflict
from skyforge.secrets.model import Sealed, Secret, SecretVersion

_COUNT = (
    select(func.count())
    .where(secret_versions.c.secret_id == secrets.c.id)
    .scalar_subquery()
    .label("versions")
)
_RACED = "the secret was changed at the same time by another request: try again"


def _secret(row: Any) -> Secret:
    return Secret(
        id=row.id,
        project_id=row.project_id,
        project=row.project_name,
        name=row.name,
        service_id=row.service_id,
        service=row.service_name,
        version=row.version,
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
        deleted_at=utc(row.deleted_at),
        versions=int(row.versions or 0),
    )


def _fields(secret: Secret) -> dict[str, Any]:
    return {
        "service_id": secret.service_id,
        "service_name": secret.service,
        "version": secret.version,
        "created_at": secret.created_at,
        "updated_at": secret.updated_at,
        "deleted_at": secret.deleted_at,
    }


class SqlSecretRepository(SqlRepository):
    async def get(self, project: str, name: str, *, for_update: bool = False) -> Secret | None:
        query = select(secrets, _COUNT).where(
            secrets.c.project_name == project, secrets.c.name == name
        )
        if for_update:  # PostgreSQL: concurrent writers of one secret queue up (SQLite: no-op)
            query = query.with_for_update(of=secrets)
        row = (await self.conn.execute(query)).first()
        return None if row is None else _secret(row)

    async def add(self, secret: Secret) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(secrets).values(
                        id=secret.id,
                        project_id=secret.project_id,
                        project_name=secret.project,
                        name=secret.name,
                        **_fields(secret),
                    )
                )
        except IntegrityError as exc:
            raise Conflict(_RACED) from exc

    async def save(self, secret: Secret) -> None:
        await self.conn.execute(
            update(secrets).where(secrets.c.id == secret.id).values(**_fields(secret))
        )

    async def page(
        self, project: str, service_id: str | None, after: str | None, limit: int
    ) -> list[Secret]:
        query = self._live(project)
        if service_id is not None:
            query = query.where(
                or_(secrets.c.service_id.is_(None), secrets.c.service_id == service_id)
            )
        if after:
            query = query.where(secrets.c.id > after)
        rows = await self.conn.execute(query.order_by(secrets.c.id).limit(limit))
        return [_secret(r) for r in rows]

    async def visible_to(self, project: str, service_id: str) -> list[Secret]:
        query = self._live(project).where(
            or_(secrets.c.service_id.is_(None), secrets.c.service_id == service_id)
        )
        return [_secret(r) for r in await self.conn.execute(query.order_by(secrets.c.name))]

    async def add_version(self, version: SecretVersion) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(secret_versions).values(
                        secret_id=version.secret_id,
                        version=version.version,
                        created_at=version.created_at,
                        **_sealed(version.sealed),
                    )
                )
        except IntegrityError as exc:
            raise Conflict(_RACED) from exc

    async def version(self, secret_id: str, version: int) -> SecretVersion | None:
        query = self._versions().where(
            secret_versions.c.secret_id == secret_id, secret_versions.c.version == version
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _version(row)

    async def versions(self, secret_id: str) -> list[SecretVersion]:
        query = self._versions().where(secret_versions.c.secret_id == secret_id)
        rows = await self.conn.execute(query.order_by(secret_versions.c.version.desc()))
        return [_version(r) for r in rows]

    async def delete_versions(self, secret_id: str) -> None:
        await self.conn.execute(
            delete(secret_versions).where(secret_versions.c.secret_id == secret_id)
        )

    async def not_under(self, key_id: str, limit: int) -> list[SecretVersion]:
        query = self._versions().where(secret_versions.c.key_id != key_id)
        order = (secret_versions.c.secret_id, secret_versions.c.version)
        return [_version(r) for r in await self.conn.execute(query.order_by(*order).limit(limit))]

    async def rewrap(self, version: SecretVersion) -> None:
        await self.conn.execute(
            update(secret_versions)
            .where(
                secret_versions.c.secret_id == version.secret_id,
                secret_versions.c.version == version.version,
            )
            .values(key_id=version.sealed.key_id, wrapped_key=version.sealed.wrapped_key)
        )

    async def key_ids(self) -> dict[str, int]:
        query = select(secret_versions.c.key_id, func.count()).group_by(secret_versions.c.key_id)
        return {key: int(count) for key, count in await self.conn.execute(query)}

    @staticmethod
    def _live(project: str) -> Any:
        return select(secrets, _COUNT).where(
            secrets.c.project_name == project, secrets.c.deleted_at.is_(None)
        )

    @staticmethod
    def _versions() -> Any:
        return select(secret_versions, secrets.c.project_id, secrets.c.name).join(
            secrets, secrets.c.id == secret_versions.c.secret_id
        )


def _sealed(sealed: Sealed) -> dict[str, Any]:
    return {
        "key_id": sealed.key_id,
        "wrapped_key": sealed.wrapped_key,
        "nonce": sealed.nonce,
        "ciphertext": sealed.ciphertext,
    }


def _version(row: Any) -> SecretVersion:
    return SecretVersion(
        secret_id=row.secret_id,
        project_id=row.project_id,
        name=row.name,
        version=row.version,
        sealed=Sealed(row.key_id, bytes(row.wrapped_key), bytes(row.nonce), bytes(row.ciphertext)),
        created_at=utc_required(row.created_at),
    )
