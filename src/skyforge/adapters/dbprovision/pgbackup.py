"""Backups of tenant databases with pg_dump, and restores into new ones with pg_restore."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from skyforge.adapters.dbprovision.base import Backup, Credentials
from skyforge.adapters.dbprovision.postgres import PostgresProvisioner
from skyforge.adapters.dbprovision.urls import ServerUrl, build_url, parse_server_url
from skyforge.kernel.errors import BadGateway, Invalid, NotFound

_SHA256 = re.compile(r"[0-9a-f]{64}")


class PostgresBackups:
    """pg_dump and pg_restore as the administrator; passwords go through a 0600 passfile."""

    def __init__(
        self,
        admin_url: str,
        provisioner: PostgresProvisioner,
        *,
        timeout: float = 900.0,
        pg_dump: str = "pg_dump",
        pg_restore: str = "pg_restore",
    ) -> None:
        self._admin: ServerUrl = parse_server_url(
            admin_url, ("postgresql", "postgres"), 5432, "postgres"
        )
        self._provisioner = provisioner
        self._timeout = timeout
        self._pg_dump, self._pg_restore = pg_dump, pg_restore

    def conninfo(self, database: str) -> str:
        """The admin URL to `database` without its password (that goes in the passfile)."""
        admin = self._admin
        return build_url(
            "postgresql", admin.user, None, admin.host, admin.port, database, admin.query
        )

    async def backup(self, name: str, dest_dir: Path) -> Backup:
        """Dump `name` (custom format) into dest_dir, then write `<file>.sha256` beside it."""
        name = self._provisioner.name(name)
        if not await self._provisioner.exists(name):
            raise NotFound(f"no database named {name!r} was created by SkyForge")
        created_at = datetime.now(UTC)
        Path(dest_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        final = Path(dest_dir) / f"{name}-{created_at:%Y%m%dT%H%M%S%fZ}.dump"
        partial = final.with_name("." + final.name + ".partial")
        try:
            await self._run(
                self._pg_dump,
                "--format=custom",
                "--no-password",
                f"--file={partial}",
                f"--dbname={self.conninfo(name)}",
            )
            size, digest = await asyncio.to_thread(_seal, partial)
            os.replace(partial, final)  # readers never see a half-written dump
            await asyncio.to_thread(_write_sidecar, final, digest)
        finally:
            partial.unlink(missing_ok=True)
        return Backup(final, size, digest, created_at, name)

    async def restore(
        self, backup_path: Path, new_name: str, *, sha256: str | None = None
    ) -> Credentials:
        """Verify the checksum, create `new_name` and restore into it, objects owned by it."""
        new_name = self._provisioner.name(new_name)
        path = Path(backup_path)
        if not path.is_file():
            raise NotFound(f"no backup file at {path}")
        expected = sha256 if sha256 is not None else await asyncio.to_thread(_read_sidecar, path)
        if not _SHA256.fullmatch(expected):
            raise Invalid("a backup checksum must be 64 lowercase hexadecimal digits")
        _, actual = await asyncio.to_thread(_digest, path)
        if not hmac.compare_digest(actual, expected):
            raise Invalid(f"backup {path.name} does not match its checksum: refusing to restore")
        credentials = await self._provisioner.create(new_name)
        try:
            # --role: every object is created by, and so owned by, the new role. --no-privileges:
            # grants name roles of the source cluster that may not exist here.
            await self._run(
                self._pg_restore,
                "--no-owner",
                "--no-privileges",
                f"--role={new_name}",
                "--exit-on-error",
                "--single-transaction",
                "--no-password",
                f"--dbname={self.conninfo(new_name)}",
                str(path),
            )
        except BaseException:
            with contextlib.suppress(Exception):  # the restore's error is the one to report
                await self._provisioner.delete(new_name)
            raise
        return credentials

    async def _run(self, program: str, *args: str) -> None:
        executable = shutil.which(program)
        if executable is None:
            raise BadGateway(f"{program} is not installed (PostgreSQL client tools are needed)")
        with tempfile.TemporaryDirectory(prefix="skyforge-pg-") as work:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
            env["PGPASSFILE"] = _passfile(Path(work), self._admin.user, self._admin.password)
            env["PGCONNECT_TIMEOUT"] = str(max(1, min(30, int(self._timeout))))
            process = await asyncio.create_subprocess_exec(
                executable,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), self._timeout)
            except BaseException as exc:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                if isinstance(exc, TimeoutError):
                    raise BadGateway(f"{program} took longer than {self._timeout:g} s") from None
                raise
        if process.returncode != 0:
            tail = self._admin.scrub(stderr.decode(errors="replace").strip()[-2000:])
            raise BadGateway(f"{program} failed (exit {process.returncode}): {tail}")


def _passfile(work: Path, user: str, password: str) -> str:
    # A passfile rather than PGPASSWORD: the PostgreSQL docs advise against the variable, since
    # some systems show process environments to other users. Mode 0600 or libpq ignores it.
    path = work / "pgpass"
    escaped = [part.replace("\\", "\\\\").replace(":", "\\:") for part in (user, password)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        if password:
            file.write(f"*:*:*:{escaped[0]}:{escaped[1]}\n")
    return str(path)


def _digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _seal(path: Path) -> tuple[int, str]:
    # Dumps hold tenant data: owner-only, and on disk before the rename makes them visible.
    os.chmod(path, 0o600)
    with path.open("rb") as file:
        os.fsync(file.fileno())
    return _digest(path)


def _write_sidecar(path: Path, digest: str) -> None:
    sidecar = path.with_name(path.name + ".sha256")
    partial = sidecar.with_name("." + sidecar.name + ".partial")
    partial.write_text(f"{digest}  {path.name}\n")  # the format `sha256sum --check` reads
    os.replace(partial, sidecar)


def _read_sidecar(path: Path) -> str:
    sidecar = path.with_name(path.name + ".sha256")
    try:
        return sidecar.read_text().split(maxsplit=1)[0]
    except (OSError, IndexError):
        raise Invalid(f"backup {path.name} has no checksum file {sidecar.name}") from None
