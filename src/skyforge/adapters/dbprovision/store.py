"""Backups kept in a local directory, under keys `<database>/<file name>`."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from skyforge.adapters.dbprovision.base import Backup
from skyforge.adapters.dbprovision.names import managed_name
from skyforge.kernel.errors import Invalid, NotFound

# A file name that cannot climb out of its folder or hide as a dotfile.
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.dump")


class LocalBackupStore:
    """A BackupStore on this host's disk: files 0600 in folders 0700, a `.sha256` beside each."""

    # S3BackupStore (s3store.py) keeps them in an S3-compatible bucket under the same keys.

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """Where the backup with this key lives; Invalid for keys that are not ours."""
        database, file = split_key(key)
        return self.directory / database / file

    async def put(self, backup: Backup) -> str:
        """Move the backup and its checksum file into the store and return its key."""
        key = f"{backup.database}/{backup.path.name}"
        target = self.path(key)
        await asyncio.to_thread(_move, backup, target)
        return key

    async def list(self, database: str) -> list[str]:
        """The keys of the database's backups, oldest first (file names start with the time)."""
        folder = self.directory / managed_name(database)
        if not folder.is_dir():
            return []
        names = sorted(p.name for p in folder.iterdir() if _FILE.fullmatch(p.name))
        return [f"{database}/{name}" for name in names]

    async def fetch(self, key: str, work_dir: Path) -> Backup:
        """The stored file itself (nothing to download) and the checksum stored beside it."""
        path = self.path(key)
        try:
            stat = path.stat()
            sha256 = path.with_name(path.name + ".sha256").read_text().split(maxsplit=1)[0]
        except (OSError, IndexError):
            raise NotFound(f"no complete backup under key {key!r}") from None
        created_at = datetime.fromtimestamp(stat.st_mtime, UTC)
        return Backup(path, stat.st_size, sha256, created_at, key.partition("/")[0])

    async def delete(self, key: str) -> None:
        """Remove the backup and its checksum file, if there."""
        path = self.path(key)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)


def split_key(key: str) -> tuple[str, str]:
    """The database and file name of a backup key; Invalid for keys that are not ours."""
    database, _, file = key.partition("/")
    managed_name(database)
    if not _FILE.fullmatch(file):
        raise Invalid(f"backup key {key[:80]!r} is not <database>/<file>.dump")
    return database, file


def is_backup_file(name: str) -> bool:
    """Whether `name` is a backup file name a store lists."""
    return _FILE.fullmatch(name) is not None


def _move(backup: Backup, target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sidecar = target.with_name(target.name + ".sha256")
    # The checksum first: a dump without one is never listed as complete by fetch.
    partial = sidecar.with_name("." + sidecar.name + ".partial")
    partial.write_text(f"{backup.sha256}  {target.name}\n")
    os.replace(partial, sidecar)
    if backup.path.resolve() != target.resolve():
        shutil.move(backup.path, target)
        backup.path.with_name(backup.path.name + ".sha256").unlink(missing_ok=True)
    os.chmod(target, 0o600)
