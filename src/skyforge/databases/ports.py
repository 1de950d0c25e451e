"""What the databases context needs from outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from skyforge.databases.model import Attachment, Database
from skyforge.kernel.uow import UnitOfWork


class DatabaseRepository(Protocol):
    async def get(
        self, project: str, name: str, *, for_update: bool = False
    ) -> Database | None: ...

    async def by_id(self, database_id: str) -> Database | None: ...
    async def by_resource(self, resource: str) -> Database | None: ...
    async def of_project(self, project: str) -> list[Database]: ...
    async def ready(self, engine: str) -> list[Database]: ...
    async def sealed(self) -> list[Database]:
        """Every database whose URL is stored (sealed)."""
        ...

    async def add(self, database: Database) -> None: ...
    async def save(self, database: Database) -> None: ...
    async def delete(self, database_id: str) -> None: ...
    async def attachments(self, database_id: str) -> list[Attachment]: ...
    async def attachment_of_var(self, project_id: str, var: str) -> Attachment | None: ...
    async def attach(self, attachment: Attachment) -> None: ...
    async def detach(self, database_id: str, service: str) -> None: ...


class JobQueue(Protocol):
    async def enqueue(self, kind: str, subject_id: str, serial_key: str) -> None: ...


class DatabasesUnitOfWork(UnitOfWork, Protocol):
    @property
    def databases(self) -> DatabaseRepository: ...

    @property
    def jobs(self) -> JobQueue: ...


@dataclass(frozen=True)
class BackupInfo:
    id: str  # the file name; unique per database
    size: int
    sha256: str
    created_at: datetime


class Servers(Protocol):
    """The database servers the operator registered (implemented over adapters/dbprovision)."""

    def check(self, engine: str) -> None:
        """Conflict when no server of this engine is registered."""
        ...

    async def create(self, engine: str, resource: str) -> str:
        """Create the database and its user; its connection URL."""
        ...

    async def rotate(self, engine: str, resource: str) -> str: ...
    async def delete(self, engine: str, resource: str) -> None: ...
    async def backup(self, resource: str) -> BackupInfo: ...
    async def backups(self, resource: str) -> list[BackupInfo]:
        """Oldest first."""
        ...

    async def restore(self, resource: str, backup: str, new_resource: str) -> str:
        """Create new_resource from a backup of resource; its connection URL."""
        ...


class Cipher(Protocol):
    """Envelope encryption with the secrets' master keys (bootstrap adapts the vault)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...
    def open(self, sealed: bytes, binding: bytes) -> bytes: ...
    def key_id(self, sealed: bytes) -> str:
        """The master key the blob's data key is wrapped under."""
        ...


@dataclass(frozen=True)
class ProjectRef:
    id: str
    name: str


# Filled by bootstrap with the projects and services contexts' queries and the bus.
FindProject = Callable[[str], Awaitable[ProjectRef]]  # NotFound when absent
ServiceExists = Callable[[str, str], Awaitable[bool]]  # (project, service)
# The secrets context's SetSecret and DeleteSecret through the bus.
SetSecret = Callable[[str, str, str, str], Awaitable[Any]]  # (project, var, value, service)
UnsetSecret = Callable[[str, str], Awaitable[Any]]  # (project, var)

PROVISION_JOB = "database.provision"
BACKUP_JOB = "database.backup"
