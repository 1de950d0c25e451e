"""Migrations run at start-up, and several processes starting at once do not break them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, func, insert, inspect, select, text
from tests.support import stored_bytes

from skyforge.adapters.crypto.blobs import sealed_bytes_of
from skyforge.adapters.sql.engine import make_engine, migrate
from skyforge.adapters.sql.tables import log_drains, signing_keys
from skyforge.config import Settings
from skyforge.logdrains.model import url_binding

MIGRATE = """
import asyncio, sys
from pathlib import Path
from skyforge.adapters.crypto.blobs import sealed_bytes_of
from skyforge.adapters.sql.engine import make_engine, migrate
from skyforge.config import Settings

async def main():
    engine = make_engine(Settings(database_url=sys.argv[1]).db_url)
    await migrate(engine, Path(sys.argv[2]))
    await engine.dispose()

asyncio.run(main())
"""


def a_service(at: datetime) -> dict[str, dict[str, Any]]:
    """The rows of project shop's service web as the 0013 schema holds them, by table."""
    return {
        "projects": {"id": "p1", "name": "shop", "created_at": at},
        "environments": {"id": "e1", "project_id": "p1", "name": "production", "created_at": at},
        "services": {
            "id": "s1",
            "project_id": "p1",
            "project_name": "shop",
            "environment_id": "e1",
            "name": "web",
            "git_url": "/srv/web",
            "branch": "main",
            "scale": {},
            "created_at": at,
            "updated_at": at,
        },
    }


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


async def test_upgrading_drops_plaintext_signing_keys_and_seals_drain_urls(
    database_url: str, tmp_path: Path
) -> None:
    """Older versions stored the JWT signing keys and log drain URLs (tokens included) in
    plaintext; after the upgrade neither is readable in the database."""
    token, private_d = "drain-token-9c41aa07", "PRIVATE-PART-OF-THE-OLD-KEY"
    url = f"https://logs.example.com/ingest?token={token}"
    engine = make_engine(Settings(database_url=database_url).db_url)
    sealer = sealed_bytes_of(tmp_path)
    try:
        await migrate(engine, tmp_path, target="0013")
        async with engine.begin() as conn:
            old = MetaData()
            await conn.run_sync(old.reflect)
            at = datetime.now(UTC)
            rows = {
                **a_service(at),
                "signing_keys": {
                    "kid": "k1",
                    "alg": "Ed25519",
                    "created_at": at,
                    "retire_at": at,
                    "expire_at": at,
                    "private_jwk": {"kty": "OKP", "crv": "Ed25519", "d": private_d, "x": "pub"},
                    "public_jwk": {"kty": "OKP", "crv": "Ed25519", "x": "pub"},
                },
                "log_drains": {
                    "id": "d1",
                    "service_id": "s1",
                    "project_name": "shop",
                    "service_name": "web",
                    "url": url,
                    "created_at": at,
                    "delivered": 0,
                    "failures": 0,
                },
            }
            for table, row in rows.items():
                await conn.execute(insert(old.tables[table]).values(**row))
        if engine.dialect.name == "sqlite":  # long stored: in the file itself, not the log
            async with engine.connect() as conn:
                raw: Any = (await conn.get_raw_connection()).driver_connection
                await (await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")).close()
            assert token.encode() in await stored_bytes(engine, database_url)

        with pytest.raises(RuntimeError, match="needs the secrets' master key"):
            await migrate(engine, tmp_path)  # without the key: refused, nothing changed
        await migrate(engine, tmp_path, sealer)

        async with engine.connect() as conn:
            assert (await conn.execute(select(signing_keys))).all() == []
            [drain] = (await conn.execute(select(log_drains))).all()
        assert sealer.open(drain.sealed_url, url_binding("d1")).decode() == url
        raw = await stored_bytes(engine, database_url)
        assert token.encode() not in raw and private_d.encode() not in raw
    finally:
        await engine.dispose()


async def test_upgrading_keeps_every_row_that_refers_to_a_service(
    database_url: str, tmp_path: Path
) -> None:
    """On SQLite a migration that changes a table copies it and drops the old one: the rows
    that refer to it (config vars, releases, drains...) must not go with it."""
    engine = make_engine(Settings(database_url=database_url).db_url)
    rows = {
        **a_service(datetime.now(UTC)),
        "config_vars": {"service_id": "s1", "name": "GREETING", "value": "hi"},
    }
    try:
        await migrate(engine, tmp_path, target="0013")
        async with engine.begin() as conn:
            old = MetaData()
            await conn.run_sync(old.reflect)
            for table, row in rows.items():
                await conn.execute(insert(old.tables[table]).values(**row))
        await migrate(engine, tmp_path, sealed_bytes_of(tmp_path))
        async with engine.connect() as conn:
            for table in rows:
                count = (
                    await conn.execute(select(func.count()).select_from(old.tables[table]))
                ).scalar()
                assert count == 1, f"the upgrade lost the row of {table}"
    finally:
        await engine.dispose()
