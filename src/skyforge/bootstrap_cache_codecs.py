"""The cache's codecs: domain objects to JSON and back, and what keys are made of.

Nothing secret goes in: principals without their token, services without their config vars
(and their source credentials only sealed, as in the database).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from skyforge.identity.model import Principal
from skyforge.identity.permissions import Scope
from skyforge.kernel.errors import Invalid
from skyforge.kernel.names import dns_label
from skyforge.projects.model import Environment, Project
from skyforge.services.model import GitSource, Service

T = TypeVar("T")


def named(name: str) -> bool:
    """Whether a name from a path can be a project's or service's (a DNS label)."""
    try:
        dns_label(name)
    except Invalid:
        return False
    return True


def digest(token: str) -> str:
    # Domain-separated: never equal to the token hash the database keeps.
    return hashlib.sha256(b"skyforge-cache\0" + token.encode()).hexdigest()


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, NOT verified: only to name its cache tag and expiry. A cached
    principal is returned only for the exact token that was verified when it was cached."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, IndexError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def principal_doc(p: Principal) -> dict[str, Any]:
    return {
        "user_id": p.user_id,
        "email": p.email,
        "org_admin": p.org_admin,
        "scope": p.scope.value,
        "via": p.via,
    }


def principal(doc: dict[str, Any]) -> Principal:
    return Principal(
        doc["user_id"], doc["email"], doc["org_admin"], Scope(doc["scope"]), doc["via"]
    )


def same(value: T) -> T:
    return value


def nullable(decode: Callable[[Any], T]) -> Callable[[Any], T | None]:
    return lambda doc: None if doc is None else decode(doc)


def project_doc(p: Project | None) -> dict[str, Any] | None:
    if p is None:
        return None
    envs = [{"id": e.id, "name": e.name, "at": e.created_at.isoformat()} for e in p.environments]
    return {"id": p.id, "name": p.name, "at": p.created_at.isoformat(), "envs": envs}


def project(doc: dict[str, Any]) -> Project:
    envs = [Environment(e["id"], e["name"], datetime.fromisoformat(e["at"])) for e in doc["envs"]]
    return Project(doc["id"], doc["name"], datetime.fromisoformat(doc["at"]), envs)


def _b64(blob: bytes | None) -> str | None:
    return None if blob is None else base64.b64encode(blob).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def service_doc(s: Service | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {  # no config vars: they may hold credentials
        "id": s.id,
        "project_id": s.project_id,
        "project": s.project,
        "environment_id": s.environment_id,
        "name": s.name,
        "git": s.source.url,
        # Sealed (as in the database): shown as `***@`, opened only by a build.
        "git_credentials": _b64(s.source.credentials),
        "branch": s.source.branch,
        "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(),
        "scale": s.scale,
        "health_check_path": s.health_check_path,
        "resources": s.resources,
        "withhold_secrets": s.withhold_secrets,
        "boot_timeout": s.boot_timeout,
        "maintenance": s.maintenance,
    }


def service(doc: dict[str, Any]) -> Service:
    return Service(
        id=doc["id"],
        project_id=doc["project_id"],
        project=doc["project"],
        environment_id=doc["environment_id"],
        name=doc["name"],
        source=GitSource(doc["git"], doc["branch"], _unb64(doc.get("git_credentials"))),
        created_at=datetime.fromisoformat(doc["created_at"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        scale=dict(doc["scale"]),
        health_check_path=doc["health_check_path"],
        resources=dict(doc.get("resources") or {}),
        withhold_secrets=bool(doc.get("withhold_secrets", False)),
        boot_timeout=doc.get("boot_timeout"),
        maintenance=bool(doc.get("maintenance", False)),
    )
