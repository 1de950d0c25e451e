"""Backups with pg_dump and restores with pg_restore on the real PostgreSQL, and their store."""

from __future__ import annotations

import hashlib
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tests.conftest import POSTGRES

from skyforge.adapters.dbprovision import (
    LocalBackupStore,
    PostgresBackups,
    PostgresProvisioner,
)
from skyforge.kernel.errors import BadGateway, Invalid, NotFound


@pytest.fixture
async def names() -> AsyncIterator[list[str]]:
    """Names for tenant databases; every one that exists afterwards is dropped."""
    provisioner = PostgresProvisioner(POSTGRES)
    made = [f"sf_test_{uuid.uuid4().hex[:16]}" for _ in range(3)]
    yield made
    for name in made:
        await provisioner.delete(name)


@pytest.fixture
async def source(names: list[str]) -> str:
    """A tenant database with a table of three rows, a sequence and a view."""
    credentials = await PostgresProvisioner(POSTGRES).create(names[0])
    conn = await asyncpg.connect(credentials.url)
    try:
        await conn.execute(
            "CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL);"
            "INSERT INTO items (label) VALUES ('a'), ('b'), ('c');"
            "CREATE VIEW labels AS SELECT label FROM items ORDER BY id;"
        )
    finally:
        await conn.close()
    return names[0]


def backups() -> PostgresBackups:
    return PostgresBackups(POSTGRES, PostgresProvisioner(POSTGRES), timeout=60)


async def test_a_restore_into_a_new_database_has_the_same_rows_owned_by_the_new_role(
    source: str, names: list[str], tmp_path: Path
) -> None:
    backup = await backups().backup(source, tmp_path)
    assert backup.path.parent == tmp_path and backup.size == backup.path.stat().st_size > 0
    assert stat.S_IMODE(backup.path.stat().st_mode) == 0o600
    assert (tmp_path / (backup.path.name + ".sha256")).read_text().startswith(backup.sha256)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    restored = await backups().restore(backup.path, names[1])
    conn = await asyncpg.connect(restored.url)
    try:
        assert [r[0] for r in await conn.fetch("SELECT * FROM labels")] == ["a", "b", "c"]
        await conn.execute("INSERT INTO items (label) VALUES ('d')")  # the sequence came too
        assert await conn.fetchval("SELECT max(id) FROM items") == 4
        owners = await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace"
        )
    finally:
        await conn.close()
    assert [r[0] for r in owners] == [names[1]]


async def test_a_backup_that_does_not_match_its_checksum_is_refused(
    source: str, names: list[str], tmp_path: Path
) -> None:
    backup = await backups().backup(source, tmp_path)
    with backup.path.open("r+b") as file:
        file.seek(backup.size // 2)
        byte = file.read(1)
        file.seek(backup.size // 2)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(Invalid, match="does not match its checksum"):
        await backups().restore(backup.path, names[1])
    with pytest.raises(Invalid, match="does not match its checksum"):
        await backups().restore(backup.path, names[1], sha256="0" * 64)
    assert not await PostgresProvisioner(POSTGRES).exists(names[1])


async def test_a_backup_without_its_checksum_file_is_refused(
    source: str, names: list[str], tmp_path: Path
) -> None:
    backup = await backups().backup(source, tmp_path)
    backup.path.with_name(backup.path.name + ".sha256").unlink()
    with pytest.raises(Invalid, match="no checksum file"):
        await backups().restore(backup.path, names[1])
    restored = await backups().restore(backup.path, names[1], sha256=backup.sha256)
    assert restored.database == names[1]


async def test_a_failed_restore_leaves_no_database_behind(names: list[str], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"this is not a pg_dump archive")
    sha256 = hashlib.sha256(garbage.read_bytes()).hexdigest()
    with pytest.raises(BadGateway, match="pg_restore failed"):
        await backups().restore(garbage, names[1], sha256=sha256)
    assert not await PostgresProvisioner(POSTGRES).exists(names[1])


async def test_a_backup_that_times_out_leaves_no_partial_file(source: str, tmp_path: Path) -> None:
    slow = PostgresBackups(POSTGRES, PostgresProvisioner(POSTGRES), timeout=0.001)
    with pytest.raises(BadGateway, match="took longer than"):
        await slow.backup(source, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_only_databases_skyforge_created_are_backed_up(tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        await backups().backup("test", tmp_path)
    with pytest.raises(NotFound):
        await backups().backup(f"sf_test_{uuid.uuid4().hex[:16]}", tmp_path)


async def test_the_local_store_keeps_lists_fetches_and_deletes_backups(
    source: str, names: list[str], tmp_path: Path
) -> None:
    store = LocalBackupStore(tmp_path / "store")
    first = await backups().backup(source, tmp_path / "staging")
    second = await backups().backup(source, tmp_path / "staging")
    keys = [await store.put(first), await store.put(second)]
    assert await store.list(source) == keys and keys == sorted(keys)
    assert list((tmp_path / "staging").iterdir()) == []  # the store took the files over
    fetched = await store.fetch(keys[0], tmp_path / "work")
    assert (fetched.sha256, fetched.size, fetched.database) == (first.sha256, first.size, source)
    assert stat.S_IMODE((tmp_path / "store" / source).stat().st_mode) == 0o700
    restored = await backups().restore(fetched.path, names[1], sha256=fetched.sha256)
    assert restored.database == names[1]
    await store.delete(keys[0])
    await store.delete(keys[0])  # already gone: nothing to do
    assert await store.list(source) == keys[1:]
    with pytest.raises(NotFound):
        await store.fetch(keys[0], tmp_path / "work")


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "sf_a/../../x.dump", "sf_a/.hidden.dump", "sf_a/x.txt", "sf_a", "/x.dump"],
)
async def test_the_local_store_refuses_keys_that_leave_its_directory(
    key: str, tmp_path: Path
) -> None:
    store = LocalBackupStore(tmp_path)
    with pytest.raises(Invalid):
        await store.fetch(key, tmp_path)
    with pytest.raises(Invalid):
        await store.delete(key)
