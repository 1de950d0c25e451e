"""Events of the databases context: names and states only, never credentials."""

from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class DatabaseRequested(Event):
    """A database was asked for (new or restored); a job provisions it."""

    type: ClassVar[str] = "database.requested"
    project: str
    name: str
    engine: str


@dataclass(frozen=True)
class DatabaseDeleted(Event):
    type: ClassVar[str] = "database.deleted"
    project: str
    name: str


@dataclass(frozen=True)
class DatabaseAttached(Event):
    type: ClassVar[str] = "database.attached"
    project: str
    name: str
    service: str
    var: str


@dataclass(frozen=True)
class DatabaseDetached(Event):
    type: ClassVar[str] = "database.detached"
    project: str
    name: str
    service: str


@dataclass(frozen=True)
class DatabaseRotated(Event):
    type: ClassVar[str] = "database.rotated"
    project: str
    name: str


@dataclass(frozen=True)
class DatabaseBackedUp(Event):
    type: ClassVar[str] = "database.backed_up"
    project: str
    name: str
    backup: str


@dataclass(frozen=True)
class DatabaseReady(Event):
    """Provisioned (or restored): services can be given its URL (never carried here)."""

    type: ClassVar[str] = "database.ready"
    project: str
    name: str
    engine: str


@dataclass(frozen=True)
class DatabaseFailed(Event):
    type: ClassVar[str] = "database.failed"
    project: str
    name: str
    reason: str  # as the API shows it: server addresses are redacted by the provisioners
