from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from skyforge.adapters.sql.repositories.base import SqlRepository, utc_required
from skyforge.adapters.sql.tables import config_vars, services
from skyforge.services.model import GitSource, Service


class SqlServiceRepository(SqlRepository):
    async def add(self, service: Service) -> None:
        await self.conn.execute(
            insert(services).values(
                id=service.id,
                project_id=service.project_id,
                project_name=service.project,
                environment_id=service.environment_id,
                name=service.name,
                created_at=service.created_at,
                withhold_secrets=service.withhold_secrets,
                **self._fields(service),
            )
        )
        await self._write_config(service)

    async def save(self, service: Service) -> None:
        await self.conn.execute(
            update(services).where(services.c.id == service.id).values(**self._fields(service))
        )
        await self.conn.execute(delete(config_vars).where(config_vars.c.service_id == service.id))
        await self._write_config(service)

    async def get(self, project: str, name: str, *, for_update: bool = False) -> Service | None:
        query = select(services).where(services.c.project_name == project, services.c.name == name)
        if for_update:  # a config change reads, compares the version and writes: one at a time
            query = query.with_for_update()
        found = await self._load(query)
        return found[0] if found else None

    async def by_id(self, service_id: str) -> Service | None:
        found = await self._load(select(services).where(services.c.id == service_id))
        return found[0] if found else None

    async def delete(self, service: Service) -> None:
        await self.conn.execute(delete(services).where(services.c.id == service.id))

    async def page(self, project: str, after: str | None, limit: int) -> list[Service]:
        query = select(services).where(services.c.project_name == project)
        if after:
            query = query.where(services.c.id > after)
        return await self._load(query.order_by(services.c.id).limit(limit))

    async def all(self) -> list[Service]:
        return await self._load(select(services).order_by(services.c.id))

    @staticmethod
    def _fields(service: Service) -> dict[str, Any]:
        return {
            "git_url": service.source.url,
            "git_credentials": service.source.credentials,
            "branch": service.source.branch,
            "scale": service.scale,
            "health_check_path": service.health_check_path,
            "resources": service.resources,
            "boot_timeout": service.boot_timeout,
            "updated_at": service.updated_at,
            "config_version": service.config_version,
            "maintenance": service.maintenance,
        }

    async def _write_config(self, service: Service) -> None:
        if service.config:
            await self.conn.execute(
                insert(config_vars),
                [
                    {"service_id": service.id, "name": k, "value": v}
                    for k, v in service.config.items()
                ],
            )

    async def _load(self, query: Any) -> list[Service]:
        rows = (await self.conn.execute(query)).all()
        config: dict[str, dict[str, str]] = {r.id: {} for r in rows}
        if rows:
            result = await self.conn.execute(
                select(config_vars)
                .where(config_vars.c.service_id.in_(list(config)))
                .order_by(config_vars.c.name)
            )
            for var in result:
                config[var.service_id][var.name] = var.value
        return [
            Service(
                id=r.id,
                project_id=r.project_id,
                project=r.project_name,
                environment_id=r.environment_id,
                name=r.name,
                source=GitSource(r.git_url, r.branch, r.git_credentials),
                created_at=utc_required(r.created_at),
                updated_at=utc_required(r.updated_at),
                scale=dict(r.scale or {}),
                health_check_path=r.health_check_path,
                config=config[r.id],
                resources=dict(r.resources or {}),
                config_version=r.config_version,
                withhold_secrets=bool(r.withhold_secrets),
                boot_timeout=r.boot_timeout,
                maintenance=bool(r.maintenance),
            )
            for r in rows
        ]
