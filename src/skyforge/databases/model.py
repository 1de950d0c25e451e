"""Managed databases: a tenant PostgreSQL database or Redis keyspace, and where it is attached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from skyforge.kernel.errors import Invalid
from skyforge.kernel.names import dns_label

ENGINES = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}  # engine -> default variable
PREFIX = "sf_"
MAX_RESOURCE = 63  # PostgreSQL truncates longer identifiers


def check_engine(engine: object) -> str:
    """Return engine when SkyForge manages it."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise Invalid(f"engine must be one of {', '.join(sorted(ENGINES))}")
    return engine


def resource_name(project: str, name: str) -> str:
    """The server-side name: sf_<project>_<name>, '-' as '_' (the adapter validates it again)."""
    dns_label(name, "a database name")
    resource = f"{PREFIX}{project}_{name}".replace("-", "_")
    if len(resource) > MAX_RESOURCE:
        raise Invalid(f"project and database names together must be at most {MAX_RESOURCE - 4}")
    return resource


def binding(database_id: str) -> bytes:
    """The associated data a database's URL is sealed with: a blob moved to another row fails."""
    return f"skyforge-database\x00{database_id}".encode()


@dataclass
class Database:
    """One managed database; `sealed` is its connection URL, encrypted (None until ready)."""

    id: str
    project_id: str
    project: str
    name: str
    engine: str
    resource: str
    status: str  # pending, ready or failed
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    sealed: bytes | None = None
    restore_from: str | None = None  # a backup key: provisioned from it instead of empty

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def provisioned(self, sealed: bytes, at: datetime) -> None:
        self.status, self.sealed, self.reason, self.updated_at = "ready", sealed, None, at

    def failed(self, reason: str, at: datetime) -> None:
        self.status, self.reason, self.updated_at = "failed", reason[:1000], at


@dataclass(frozen=True)
class Attachment:
    """A database's URL given to one service as the secret named `var`."""

    database_id: str
    project_id: str
    service: str
    var: str
    created_at: datetime
