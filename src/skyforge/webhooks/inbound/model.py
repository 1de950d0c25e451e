"""Inbound hooks and what a verified delivery asks for. Plain Python: no framework."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from skyforge.kernel.errors import Invalid

GITHUB, GITLAB = "github", "gitlab"
PROVIDERS = frozenset({GITHUB, GITLAB})
MAX_NAME = 63


@dataclass(frozen=True)
class InboundHook:
    """A per-service endpoint a git provider posts to; the secret is sealed or hashed."""

    id: str
    project_id: str
    project: str
    service_id: str
    service: str
    provider: str
    created_at: datetime
    sealed: bytes | None = None  # GitHub: the HMAC key, envelope-encrypted
    secret_hash: str | None = None  # GitLab: sha256 of the token it sends back


@dataclass(frozen=True)
class Preview:
    """A preview service made for a pull/merge request of a parent service."""

    service_id: str
    project_id: str
    name: str
    parent_service_id: str
    number: int
    created_at: datetime


@dataclass(frozen=True)
class Push:
    branch: str
    commit: str | None  # None: the branch was deleted


@dataclass(frozen=True)
class PullRequest:
    number: int
    action: str  # "open" (opened, reopened, updated) or "close" (closed, merged)
    branch: str  # the head branch
    commit: str
    fork: bool = True  # from another repository (or one we cannot tell): gets no secrets


@dataclass(frozen=True)
class Delivery:
    """One verified delivery, normalized across providers."""

    id: str  # the provider's delivery id: seen twice means a replay
    event: str  # the provider's event name, for the record
    push: Push | None = None
    pull: PullRequest | None = None


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise Invalid(f"provider must be one of {', '.join(sorted(PROVIDERS))}")
    return provider


def preview_name(service: str, number: int) -> str:
    """`<service>-pr-<n>`, the service part shortened so the name stays a DNS label."""
    suffix = f"-pr-{number}"
    head = service[: MAX_NAME - len(suffix)].rstrip("-")
    return head + suffix


_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_NULL_COMMIT = re.compile(r"^0+$")


def commit_or_none(value: object) -> str | None:
    """A full object id; None for git's all-zero id (a deleted ref); Invalid otherwise."""
    if not isinstance(value, str) or not _COMMIT.match(value):
        raise Invalid("the payload has no valid commit id")
    return None if _NULL_COMMIT.match(value) else value
