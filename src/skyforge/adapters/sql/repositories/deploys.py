"""Builds, releases, deploys and their logs."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, insert, select, update

from skyforge.adapters.sql.repositories.base import SqlRepository, utc, utc_required
from skyforge.adapters.sql.tables import builds, deploy_logs, deploys, releases
from skyforge.builds.model import Build
from skyforge.deploys.model import Deploy, Release


class SqlBuildRepository(SqlRepository):
    async def add(self, build: Build) -> None:
        await self.conn.execute(insert(builds).values(**dataclasses.asdict(build)))

    async def save(self, build: Build) -> None:
        await self.conn.execute(
            update(builds).where(builds.c.id == build.id).values(**dataclasses.asdict(build))
        )

    async def get(self, build_id: str) -> Build | None:
        row = (await self.conn.execute(select(builds).where(builds.c.id == build_id))).first()
        if row is None:
            return None
        values = row._asdict()
        values.update(
            created_at=utc_required(row.created_at),
            finished_at=utc(row.finished_at),
            process_types=row.process_types or {},
            env=row.env or {},
        )
        return Build(**values)


def _deploy(row: Any) -> Deploy:
    values = row._asdict()
    config = values.pop("config_changes", None)
    values.update(
        config=dict(config) if config is not None else None,
        created_at=utc_required(row.created_at),
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        cancel_requested=bool(row.cancel_requested),
    )
    return Deploy(**values)


class SqlDeployRepository(SqlRepository):
    async def add(self, deploy: Deploy) -> None:
        await self.conn.execute(insert(deploys).values(**self._row(deploy)))

    async def save(self, deploy: Deploy) -> None:
        await self.conn.execute(
            update(deploys).where(deploys.c.id == deploy.id).values(**self._row(deploy))
        )

    async def get(self, deploy_id: str) -> Deploy | None:
        row = (await self.conn.execute(select(deploys).where(deploys.c.id == deploy_id))).first()
        return None if row is None else _deploy(row)

    async def page(self, service_id: str, after: str | None, limit: int) -> list[Deploy]:
        query = select(deploys).where(deploys.c.service_id == service_id)
        if after:
            query = query.where(deploys.c.id < after)
        rows = await self.conn.execute(query.order_by(deploys.c.id.desc()).limit(limit))
        return [_deploy(r) for r in rows]

    @staticmethod
    def _row(deploy: Deploy) -> dict[str, Any]:
        row = dataclasses.asdict(deploy)
        row.pop("extra")
        row["config_changes"] = row.pop("config")
        return row


def _release(row: Any) -> Release:
    return Release(
        row.id,
        row.service_id,
        row.version,
        row.build_id,
        dict(row.config),
        row.description,
        utc_required(row.created_at),
        dict(row.secrets or {}),
    )


class SqlReleaseRepository(SqlRepository):
    async def add(self, release: Release) -> None:
        await self.conn.execute(insert(releases).values(**dataclasses.asdict(release)))

    async def current(self, service_id: str) -> Release | None:
        newest = self._of(service_id).order_by(releases.c.version.desc()).limit(1)
        row = (await self.conn.execute(newest)).first()
        return None if row is None else _release(row)

    async def by_version(self, service_id: str, version: int) -> Release | None:
        query = self._of(service_id).where(releases.c.version == version)
        row = (await self.conn.execute(query)).first()
        return None if row is None else _release(row)

    async def get(self, release_id: str) -> Release | None:
        row = (await self.conn.execute(select(releases).where(releases.c.id == release_id))).first()
        return None if row is None else _release(row)

    async def page(self, service_id: str, before: int | None, limit: int) -> list[Release]:
        query = self._of(service_id)
        if before is not None:
            query = query.where(releases.c.version < before)
        rows = await self.conn.execute(query.order_by(releases.c.version.desc()).limit(limit))
        return [_release(r) for r in rows]

    @staticmethod
    def _of(service_id: str) -> Any:
        return select(releases).where(releases.c.service_id == service_id)


class SqlDeployLogRepository(SqlRepository):
    async def append(self, deploy_id: str, first_seq: int, lines: list[str]) -> None:
        if lines:
            await self.conn.execute(
                insert(deploy_logs),
                [
                    {"deploy_id": deploy_id, "seq": first_seq + i, "line": line}
                    for i, line in enumerate(lines)
                ],
            )

    async def read(self, deploy_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        query = (
            select(deploy_logs.c.seq, deploy_logs.c.line)
            .where(deploy_logs.c.deploy_id == deploy_id, deploy_logs.c.seq > after_seq)
            .order_by(deploy_logs.c.seq)
            .limit(limit)
        )
        return [(r.seq, r.line) for r in await self.conn.execute(query)]

    async def last_seq(self, deploy_id: str) -> int:
        query = select(func.max(deploy_logs.c.seq)).where(deploy_logs.c.deploy_id == deploy_id)
        return int((await self.conn.execute(query)).scalar() or 0)
