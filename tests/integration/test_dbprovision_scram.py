"""On a private PostgreSQL that checks passwords (scram-sha-256), as production ones must."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from skyforge.adapters.dbprovision import Credentials, PostgresBackups, PostgresProvisioner
from skyforge.kernel.errors import BadGateway

ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The admin URL of a fresh cluster on a free port; every login needs its password."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("initdb is not installed (the PostgreSQL server package)")
    work = Path(tempfile.mkdtemp(prefix="skyforge-scram-"))
    # PostgreSQL refuses to run as root: as root, run it as the postgres user.
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    (work / "pw").write_text(ADMIN_PASSWORD + "\n")
    if run_as:
        shutil.chown(work, "postgres")
        shutil.chown(work / "pw", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = work / "data"

    def run(*args: str) -> None:
        subprocess.run([*run_as, *args], cwd=work, check=True, capture_output=True, timeout=60)

    try:
        initdb = ["--auth=scram-sha-256", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]
        run(str(bindir / "initdb"), "-D", str(data), f"--pwfile={work / 'pw'}", *initdb)
        options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(work / "log")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")
        yield f"postgresql://postgres:{ADMIN_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            cwd=work,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
async def provisioner(cluster: str) -> AsyncIterator[PostgresProvisioner]:
    provisioner = PostgresProvisioner(cluster)
    yield provisioner
    conn = await asyncpg.connect(cluster)
    try:
        names = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE 'sf\\_%'")
    finally:
        await conn.close()
    for row in names:
        await provisioner.delete(row["rolname"])


def with_password(credentials: Credentials, password: str, database: str | None = None) -> str:
    host = f"{credentials.host}:{credentials.port}"
    return f"postgresql://{credentials.user}:{password}@{host}/{database or credentials.database}"


async def test_the_url_works_with_its_password_and_no_other(
    provisioner: PostgresProvisioner,
) -> None:
    credentials = await provisioner.create("sf_scram_login")
    conn = await asyncpg.connect(credentials.url)
    assert await conn.fetchval("SELECT current_user") == "sf_scram_login"
    await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(with_password(credentials, "not-the-password"))


async def test_rotate_makes_the_old_password_fail_and_keeps_the_data(
    provisioner: PostgresProvisioner,
) -> None:
    before = await provisioner.create("sf_scram_rotate")
    conn = await asyncpg.connect(before.url)
    await conn.execute("CREATE TABLE kept AS SELECT 'still here'::text AS note")
    await conn.close()
    after = await provisioner.rotate("sf_scram_rotate")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(before.url)
    conn = await asyncpg.connect(after.url)
    try:
        assert await conn.fetchval("SELECT note FROM kept") == "still here"
    finally:
        await conn.close()


async def test_on_a_hardened_cluster_a_tenant_reaches_only_its_own_database(
    cluster: str, provisioner: PostgresProvisioner
) -> None:
    before = await provisioner.audit()
    assert any("'postgres' grants CONNECT to PUBLIC" in line for line in before)
    assert any("'template1' grants CONNECT to PUBLIC" in line for line in before)
    conn = await asyncpg.connect(cluster)
    try:  # what README.md tells the operator to do, once per cluster
        await conn.execute("REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC")
    finally:
        await conn.close()
    assert await provisioner.audit() == []
    mine = await provisioner.create("sf_scram_mine")
    await provisioner.create("sf_scram_theirs")
    for other in ("postgres", "template1", "sf_scram_theirs"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await asyncpg.connect(with_password(mine, mine.password, other))


async def test_backup_and_restore_log_in_through_a_passfile_not_the_command_line(
    cluster: str, provisioner: PostgresProvisioner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await provisioner.create("sf_scram_source")
    conn = await asyncpg.connect(source.url)
    await conn.execute("CREATE TABLE t AS SELECT generate_series(1, 5) AS n")
    await conn.close()
    commands: list[tuple[Any, ...]] = []
    real_exec = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        commands.append((*args, *sorted(kwargs["env"].items())))
        return await real_exec(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    backups = PostgresBackups(cluster, provisioner)
    backup = await backups.backup("sf_scram_source", tmp_path)
    restored = await backups.restore(backup.path, "sf_scram_copy")
    conn = await asyncpg.connect(restored.url)
    try:
        assert await conn.fetchval("SELECT sum(n) FROM t") == 15
    finally:
        await conn.close()
    in_query = f"{cluster.replace(':' + ADMIN_PASSWORD, '')}?password={ADMIN_PASSWORD}"
    backup = await PostgresBackups(in_query, provisioner).backup("sf_scram_source", tmp_path)
    assert len(commands) == 3
    assert all(ADMIN_PASSWORD not in str(part) for command in commands for part in command)
    assert all("PGPASSWORD" not in str(command) for command in commands)


async def test_a_wrong_admin_password_is_reported_without_the_password(cluster: str) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    with pytest.raises(BadGateway, match="InvalidPasswordError") as caught:
        await PostgresProvisioner(cluster.replace(ADMIN_PASSWORD, secret)).exists("sf_anything")
    assert secret not in str(caught.value) and ADMIN_PASSWORD not in str(caught.value)
