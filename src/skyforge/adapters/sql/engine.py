"""The async engine and start-up migrations (safe when several processes start at once)."""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skyforge.adapters.sql import sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: the PostgreSQL advisory lock that serializes migrations between processes.
_MIGRATION_LOCK = 0x5F5F0001


def make_engine(url: str) -> AsyncEngine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ":memory:"
        engine = create_async_engine(url, async_creator=sqlite.creator(path))

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(sqlite.BUSY_TIMEOUT_SECONDS * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows and freed pages are overwritten with zeros: a destroyed secret
            # version, or a value an older version kept in plaintext, does not linger.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()
            # Take the write lock at BEGIN: a deferred transaction that reads, then writes,
            # fails at once ("database is locked") when another writer got in between.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Sealer(Protocol):
    """Seals a value under the secrets' master keys (blobs.SealedBytes)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...


def _upgrade(connection: Connection, sealer: Sealer | None, target: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    # Migrations that seal stored values (they were plaintext) find the sealer here.
    cfg.attributes["sealer"] = sealer
    command.upgrade(cfg, target)


async def migrate(
    engine: AsyncEngine, lock_dir: Path, sealer: Sealer | None = None, *, target: str = "heads"
) -> None:
    """Bring the schema to the newest migration (or `target`), one process at a time.

    `sealer` (blobs.SealedBytes) seals values older versions stored in plaintext; without it, a
    migration that finds such values fails rather than keep them.
    """
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            try:
                await conn.run_sync(_upgrade, sealer, target)
                await conn.commit()
            finally:
                await conn.rollback()  # a failed migration left its transaction aborted
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                await conn.commit()
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "migrate.lock", "w") as lock:
        # Another process migrating the same file waits here; SQLite is one host anyway.
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        async with engine.connect() as conn:
            # SQLite changes a table by copying it and dropping the old one; with foreign keys
            # on, that drop would cascade to every row that references it (a service's drains,
            # config vars, releases...). Off for the migration (only outside a transaction).
            raw: Any = (await conn.get_raw_connection()).driver_connection
            await (await raw.execute("PRAGMA foreign_keys=OFF")).close()
            try:
                async with conn.begin():
                    await conn.run_sync(_upgrade, sealer, target)
            finally:
                await (await raw.execute("PRAGMA foreign_keys=ON")).close()
        async with engine.connect() as conn:
            # What a migration replaced must not live on in the write-ahead log either (outside
            # any transaction: the driver's own connection).
            log: Any = (await conn.get_raw_connection()).driver_connection
            await (await log.execute("PRAGMA wal_checkpoint(TRUNCATE)")).close()
