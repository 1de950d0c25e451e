"""Migrations run at start-up, and several processes starting at once do not break them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, text

from skyforge.adapters.sql.engine import make_engine, migrate
from skyforge.config import Settings

MIGRATE = """
import asyncio, sys
from pathlib import Path
from skyforge.adapters.sql.engine import make_engine, migrate
from skyforge.config import Settings

async def main():
    engine = make_engine(Settings(database_url=sys.argv[1]).db_url)
    await migrate(engine, Path(sys.argv[2]))
    await engine.dispose()

asyncio.run(main())
"""


async def test_three_processes_migrating_the_same_database_at_once_all_succeed(
    database_url: str, tmp_path: Path
) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE,
            database_url,
            str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs

    engine = make_engine(Settings(database_url=database_url).db_url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert len(version) == 1
        assert {"projects", "services", "releases", "deploys", "jobs", "outbox"} <= tables
        await migrate(engine, tmp_path)  # once more: nothing to do, nothing breaks
    finally:
        await engine.dispose()
