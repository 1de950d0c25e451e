from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class CreateDatabase(Command):
    project: str
    name: str
    engine: str


@dataclass(frozen=True)
class DeleteDatabase(Command):
    project: str
    name: str
    confirm: str  # the name typed again


@dataclass(frozen=True)
class AttachDatabase(Command):
    project: str
    name: str
    service: str
    var: str | None = None  # default: DATABASE_URL or REDIS_URL


@dataclass(frozen=True)
class DetachDatabase(Command):
    project: str
    name: str
    service: str


@dataclass(frozen=True)
class BackUpDatabase(Command):
    project: str
    name: str


@dataclass(frozen=True)
class RestoreDatabase(Command):
    project: str
    name: str
    backup: str  # a backup id from the listing
    into: str  # the new database's name


@dataclass(frozen=True)
class RotateDatabase(Command):
    project: str
    name: str
