from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class SetSecret(Command):
    project: str
    name: str
    value: str
    service: str | None = None  # None: every service of the project


@dataclass(frozen=True)
class DeleteSecret(Command):
    project: str
    name: str


@dataclass(frozen=True)
class RevealSecret(Command):
    project: str
    name: str
    version: int | None = None  # default: the current version


@dataclass(frozen=True)
class RotateMasterKey(Command):
    # Organization admins with an admin-scoped credential only; the API says who is calling.
    org_admin: bool
    admin_scope: bool
