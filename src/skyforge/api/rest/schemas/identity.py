from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from skyforge.api.rest.schemas.base import Input


class InvitationCreate(Input):
    email: str = Field(max_length=254)
    org_role: str = Field("member", max_length=20, description="member or admin")


class InvitationRead(BaseModel):
    id: str
    email: str
    org_role: str
    token: str = Field(description="give it to the invitee; shown once")
    expires_at: datetime


class SignupIn(Input):
    invitation: str = Field(max_length=200)
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
    name: str = Field(max_length=100)


class LoginIn(Input):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class RefreshIn(Input):
    refresh_token: str = Field(max_length=200)


class SessionRead(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 (the scheme name)
    expires_in: int


class UserRead(BaseModel):
    id: str
    email: str
    name: str
    org_role: str
    created_at: datetime
    via: str | None = Field(None, description="the credential of this call")


class TokenCreate(Input):
    name: str = Field(max_length=100)
    scope: str = Field("write", description="read, write or admin")
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenRead(BaseModel):
    id: str
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="the secret; shown once")


class TokenPage(BaseModel):
    items: list[TokenRead]
    next_cursor: str | None


class MemberIn(Input):
    email: str = Field(max_length=254)
    role: str = Field(max_length=20, description="owner, admin, developer or viewer")


class MemberUpdate(Input):
    role: str = Field(max_length=20)


class MemberRead(BaseModel):
    email: str
    name: str
    role: str
    since: datetime


class MemberPage(BaseModel):
    items: list[MemberRead]
    next_cursor: str | None


class AuditRead(BaseModel):
    id: str
    at: datetime
    actor: str
    via: str
    action: str
    target: str
    project: str | None = None  # None: the organization's (logins, tokens, invitations)
    diff: dict[str, Any]
    ip: str | None
    user_agent: str | None
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None


class OidcStartRead(BaseModel):
    authorize_url: str
    poll_token: str = Field(description="POST it to /api/v1/auth/oidc/poll until done")
    interval: int = Field(description="seconds between polls")
    expires_in: int


class OidcPollIn(Input):
    poll_token: str = Field(max_length=200)
