"""Who is calling: users, invitations, tokens, memberships, audit records."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skyforge.identity.permissions import Role, Scope
from skyforge.kernel.errors import Invalid

TOKEN_PREFIX = "sfp_"  # noqa: S105 (a name, not a secret)
REFRESH_PREFIX = "sfr_"
INVITE_PREFIX = "sfi_"
ORG_ROLES = frozenset({"admin", "member"})
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def new_secret(prefix: str) -> str:
    """A new random token (shown once; only its hash is kept)."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain digest cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def normalize_email(email: str) -> str:
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email.strip()):
        raise Invalid("email must be an address like name@example.com")
    return email.strip().lower()


def check_password(password: str, email: str) -> str:
    """Password rules: 12 to 256 characters, not the e-mail, not one repeated character."""
    if not isinstance(password, str) or not 12 <= len(password) <= 256:
        raise Invalid("password must be 12 to 256 characters long")
    if password.lower() == email.lower() or password.lower() in email.lower():
        raise Invalid("password must not be your e-mail address")
    if len(set(password)) < 4:
        raise Invalid("password must not be one character repeated")
    return password


@dataclass
class User:
    id: str
    email: str
    name: str
    org_role: str  # admin | member
    created_at: datetime
    password_hash: str | None = None

    @property
    def org_admin(self) -> bool:
        return self.org_role == "admin"


@dataclass
class Invitation:
    id: str
    email: str
    org_role: str
    token_hash: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None


@dataclass
class ApiToken:
    """A personal API token (the bootstrap admin token is one of the first admin's)."""

    id: str
    name: str
    token_hash: str
    created_at: datetime
    user_id: str | None = None
    scope: Scope = Scope.ADMIN
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable(self, at: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


@dataclass
class RefreshToken:
    """One link of a rotating chain; reuse of a used link revokes the whole family."""

    id: str
    family_id: str
    user_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class SigningKey:
    kid: str
    alg: str
    sealed_private_jwk: bytes  # sealed under the secrets' master keys by the signer
    public_jwk: dict[str, Any]
    created_at: datetime
    retire_at: datetime  # signs nothing after this
    expire_at: datetime  # leaves the JWKS after this (every token it signed has expired)

    @property
    def binding(self) -> bytes:
        return signing_key_binding(self.kid)


def signing_key_binding(kid: str) -> bytes:
    """Associated data of a sealed private key: it cannot be moved to another key id."""
    return f"signing-key:{kid}".encode()


@dataclass
class Membership:
    project_id: str
    user_id: str
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class Principal:
    """The caller: a user, through a kind of credential, with a scope."""

    user_id: str
    email: str
    org_admin: bool
    scope: Scope
    via: str  # "token:<id>" or "session:<family id>"


@dataclass
class AuditRecord:
    id: str
    at: datetime
    actor: str  # e-mail of the user
    actor_id: str
    via: str
    action: str  # the event type: service.created, deploy.queued, ...
    target: str
    project: str | None
    diff: dict[str, Any] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass
class OidcLogin:
    """A login at an OpenID provider in progress (state, nonce and PKCE verifier kept here)."""

    id: str
    state_hash: str
    nonce: str
    code_verifier: str
    created_at: datetime
    expires_at: datetime
    poll_hash: str | None = None  # set when a CLI started it and polls for the result
    user_id: str | None = None  # who logged in, once the provider sent them back
    used_at: datetime | None = None
    error: str | None = None  # why the login was refused (told to the polling CLI)
