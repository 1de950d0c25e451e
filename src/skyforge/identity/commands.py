from dataclasses import dataclass

from skyforge.identity.model import Principal
from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class Invite(Command):
    by: Principal
    email: str
    org_role: str = "member"


@dataclass(frozen=True)
class SignUp(Command):
    invitation: str
    email: str
    password: str
    name: str


@dataclass(frozen=True)
class CreateToken(Command):
    by: Principal
    name: str
    scope: str
    expires_in_days: int | None = None


@dataclass(frozen=True)
class RevokeToken(Command):
    by: Principal
    token_id: str


@dataclass(frozen=True)
class AddMember(Command):
    by: Principal
    project: str
    email: str
    role: str


@dataclass(frozen=True)
class ChangeMember(Command):
    by: Principal
    project: str
    email: str
    role: str


@dataclass(frozen=True)
class RemoveMember(Command):
    by: Principal
    project: str
    email: str
