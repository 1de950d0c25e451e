from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select

from skyforge.adapters.sql.repositories.base import SqlRepository, utc_required
from skyforge.adapters.sql.tables import environments, projects
from skyforge.projects.model import Environment, Project


class SqlProjectRepository(SqlRepository):
    async def add(self, project: Project) -> None:
        await self.conn.execute(
            insert(projects).values(id=project.id, name=project.name, created_at=project.created_at)
        )
        for env in project.environments:
            await self.conn.execute(
                insert(environments).values(
                    id=env.id, project_id=project.id, name=env.name, created_at=env.created_at
                )
            )

    async def get(self, name: str) -> Project | None:
        row = (await self.conn.execute(select(projects).where(projects.c.name == name))).first()
        return None if row is None else (await self._load([row]))[0]

    async def delete(self, project: Project) -> None:
        await self.conn.execute(delete(projects).where(projects.c.id == project.id))

    async def page(
        self, after: str | None, limit: int, only: set[str] | None = None
    ) -> list[Project]:
        query = select(projects).order_by(projects.c.id).limit(limit)
        if only is not None:
            query = query.where(projects.c.id.in_(sorted(only)))
        if after:
            query = query.where(projects.c.id > after)
        return await self._load(list((await self.conn.execute(query)).all()))

    async def _load(self, rows: list[Any]) -> list[Project]:
        ids = [row.id for row in rows]
        envs: dict[str, list[Environment]] = {i: [] for i in ids}
        if ids:
            result = await self.conn.execute(
                select(environments)
                .where(environments.c.project_id.in_(ids))
                .order_by(environments.c.id)
            )
            for env in result:
                envs[env.project_id].append(
                    Environment(env.id, env.name, utc_required(env.created_at))
                )
        return [Project(r.id, r.name, utc_required(r.created_at), envs[r.id]) for r in rows]
