"""The managed-database ports: provisioners of tenant databases, backups and backup stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Credentials:
    """How an app reaches its managed database; `repr` hides the password and the URL."""

    host: str
    port: int
    database: str  # PostgreSQL: the database name; Redis: the logical database index
    user: str
    password: str = field(repr=False)
    url: str = field(repr=False)
    # Redis only: the key and channel prefix the user is limited to ("" for PostgreSQL).
    key_prefix: str = ""


@dataclass(frozen=True)
class Backup:
    """A finished, checksummed backup file of one database."""

    path: Path
    size: int
    sha256: str
    created_at: datetime
    database: str = ""


class Provisioner(Protocol):
    """Creates and removes one isolated database (or keyspace) and its user per name."""

    async def create(self, name: str) -> Credentials:
        """Create the database and its user with a new password; Conflict when it exists."""

    async def rotate(self, name: str) -> Credentials:
        """Give the user a new password, keeping the data; NotFound when there is no user."""

    async def delete(self, name: str) -> None:
        """Remove the database, its data and its user; nothing to do when already gone."""

    async def exists(self, name: str) -> bool:
        """Whether a database SkyForge created under this name exists."""

    async def audit(self) -> list[str]:
        """Settings of the server that weaken tenant isolation, one sentence each."""


class DatabaseBackups(Protocol):
    """Dumps a managed database to a file and restores one into a new database."""

    async def backup(self, name: str, dest_dir: Path) -> Backup:
        """Write a backup of `name` into `dest_dir`, with a `.sha256` file beside it."""

    async def restore(
        self, backup_path: Path, new_name: str, *, sha256: str | None = None
    ) -> Credentials:
        """Create `new_name` from a backup whose checksum matches; Invalid when it does not."""


class BackupStore(Protocol):
    """Where finished backups are kept, under keys `<database>/<file name>`."""

    async def put(self, backup: Backup) -> str:
        """Keep the backup (the store takes the file over) and return its key."""

    async def list(self, database: str) -> list[str]:
        """The keys of the database's backups, oldest first."""

    async def fetch(self, key: str, work_dir: Path) -> Backup:
        """A local file of the backup (a download for remote stores) and its stored checksum."""

    async def delete(self, key: str) -> None:
        """Forget the backup; nothing to do when it is already gone."""
