from __future__ import annotations

import dataclasses

from sqlalchemy import func, insert, select

from skyforge.adapters.sql.repositories.base import SqlRepository, utc, utc_required
from skyforge.adapters.sql.tables import api_tokens
from skyforge.identity.model import ApiToken


class SqlTokenRepository(SqlRepository):
    async def add(self, token: ApiToken) -> None:
        await self.conn.execute(insert(api_tokens).values(**dataclasses.asdict(token)))

    async def by_hash(self, token_hash: str) -> ApiToken | None:
        query = select(api_tokens).where(api_tokens.c.token_hash == token_hash)
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return ApiToken(
            row.id, row.name, row.token_hash, utc_required(row.created_at), utc(row.last_used_at)
        )

    async def count(self) -> int:
        return int(
            (await self.conn.execute(select(func.count()).select_from(api_tokens))).scalar() or 0
        )
