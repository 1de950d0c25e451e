"""Who is acting, from where: set per request, read where changes are recorded (the audit)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str | None = None
    actor_id: str | None = None
    actor: str | None = None  # e-mail
    via: str | None = None  # token:<id> | session:<family>


current: ContextVar[RequestContext | None] = ContextVar("skyforge_request", default=None)
