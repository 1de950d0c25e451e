"""Failed-login counters and lock-outs in the database: the login guard's store without Redis.

In process they would be forgotten by a restart, and an attacker who can make SkyForge restart
(or just waits for a deploy of it) would get fresh guesses; each replica would also count on its
own. One row per key (an account digest or a client address, see ratelimit/login.py), on the
wall clock, which means the same after a restart and to every replica.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skyforge.adapters.sql.repositories.base import utc, utc_required
from skyforge.adapters.sql.tables import login_attempts as attempts
from skyforge.kernel.clock import now


class SqlLoginCounters:
    """The counters and blocks of LoginGuard (adapters/ratelimit's Counters), in SQL."""

    def __init__(self, engine: AsyncEngine, *, purge_every: float = 60.0) -> None:
        self.engine = engine
        self._purge_every = purge_every
        self._purged = -purge_every  # monotonic time of the last purge: the first write purges

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(attempts)
        return sqlite.insert(attempts)

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter `key`, forgotten `ttl` seconds after its last increment."""
        at = now()
        forget = at + timedelta(seconds=ttl)
        statement = (
            self._insert()
            .values(key=key, failures=1, forget_at=forget, blocked_until=None)
            .on_conflict_do_update(
                index_elements=[attempts.c.key],
                set_={
                    # Atomic: two replicas counting the same failure at once both count.
                    "failures": case(
                        (attempts.c.forget_at <= at, 1), else_=attempts.c.failures + 1
                    ),
                    "forget_at": forget,
                },
            )
            .returning(attempts.c.failures)
        )
        async with self.engine.begin() as conn:
            failures = (await conn.execute(statement)).scalar_one()
            await self._purge(conn, at)
        return int(failures)

    async def count(self, key: str) -> int:
        """The counter `key` (0 when unknown or forgotten)."""
        query = select(attempts.c.failures, attempts.c.forget_at).where(attempts.c.key == key)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or utc_required(row.forget_at) <= now():
            return 0
        return int(row.failures)

    async def block(self, key: str, seconds: float) -> None:
        """Block `key` for `seconds` from now (replacing any earlier block)."""
        if seconds <= 0:
            return
        at = now()
        until = at + timedelta(seconds=seconds)
        statement = (
            self._insert()
            .values(key=key, failures=0, forget_at=at, blocked_until=until)
            .on_conflict_do_update(index_elements=[attempts.c.key], set_={"blocked_until": until})
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def blocked_for(self, key: str) -> float:
        """Seconds until the block on `key` ends (0 when not blocked)."""
        query = select(attempts.c.blocked_until).where(attempts.c.key == key)
        async with self.engine.connect() as conn:
            until: datetime | None = utc((await conn.execute(query)).scalar_one_or_none())
        return 0.0 if until is None else max(0.0, (until - now()).total_seconds())

    async def reset(self, *keys: str) -> None:
        """Forget the counters and blocks under `keys`."""
        if keys:
            async with self.engine.begin() as conn:
                await conn.execute(delete(attempts).where(attempts.c.key.in_(keys)))

    async def _purge(self, conn: AsyncConnection, at: datetime) -> None:
        """Rows whose failures are forgotten and whose lock is over go (once a minute at most):
        the table holds only what still counts."""
        if time.monotonic() - self._purged < self._purge_every:
            return
        self._purged = time.monotonic()
        over = or_(attempts.c.blocked_until.is_(None), attempts.c.blocked_until <= at)
        await conn.execute(delete(attempts).where(and_(attempts.c.forget_at <= at, over)))
