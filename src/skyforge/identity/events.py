from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class InvitationCreated(Event):
    type: ClassVar[str] = "invitation.created"
    email: str
    org_role: str


@dataclass(frozen=True)
class UserSignedUp(Event):
    type: ClassVar[str] = "user.signed_up"
    email: str
    method: str  # password | oidc


@dataclass(frozen=True)
class TokenCreated(Event):
    type: ClassVar[str] = "token.created"
    token_id: str
    name: str
    scope: str


@dataclass(frozen=True)
class TokenRevoked(Event):
    type: ClassVar[str] = "token.revoked"
    token_id: str
    name: str


@dataclass(frozen=True)
class SessionRevoked(Event):
    """A refresh token was replayed (or the user logged out): its family is revoked."""

    type: ClassVar[str] = "session.revoked"
    user_id: str
    reason: str


@dataclass(frozen=True)
class MemberAdded(Event):
    type: ClassVar[str] = "member.added"
    project: str
    email: str
    role: str


@dataclass(frozen=True)
class MemberChanged(Event):
    type: ClassVar[str] = "member.changed"
    project: str
    email: str
    role: str
    previous_role: str


@dataclass(frozen=True)
class MemberRemoved(Event):
    type: ClassVar[str] = "member.removed"
    project: str
    email: str
    role: str


@dataclass(frozen=True)
class LoginFailed(Event):
    """A password login with a wrong e-mail or password: the e-mail tried and from where
    (never the password). In the organization's audit log, with no caller."""

    type: ClassVar[str] = "auth.login_failed"
    email: str
    ip: str


@dataclass(frozen=True)
class LoginLockedOut(Event):
    """Failed logins locked an account (or a client address) out for `seconds`."""

    type: ClassVar[str] = "auth.locked_out"
    email: str
    ip: str
    seconds: int
