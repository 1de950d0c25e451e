"""SQLite under cancellation: a task cancelled inside a transaction never keeps the write lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.adapters.sql.engine import make_engine

# About half a second of work for SQLite while the transaction holds the write lock.
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
    "SELECT count(*) FROM c"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with made.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield made
    await made.dispose()


async def _write_then_work(engine: AsyncEngine, started: asyncio.Event) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        started.set()
        await conn.execute(text(SLOW))


@pytest.mark.parametrize("cancels", [1, 5])
async def test_a_transaction_cancelled_mid_statement_is_rolled_back_and_frees_the_lock(
    engine: AsyncEngine, cancels: int
) -> None:
    started = asyncio.Event()
    task = asyncio.create_task(_write_then_work(engine, started))
    await started.wait()
    await asyncio.sleep(0.05)  # inside the slow statement
    for _ in range(cancels):  # as a stop that insists does
        task.cancel()
        await asyncio.wait([task], timeout=0.05)
    with pytest.raises(asyncio.CancelledError):
        await task

    # Another writer gets the lock (before the fix it waited the 30 s busy timeout and failed),
    # and the cancelled transaction's row was never committed.
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (2)"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT x FROM t"))).scalars().all() == [2]
