from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from skyforge.api.rest.schemas.base import Input


class DeployRead(BaseModel):
    id: str
    service: str
    kind: str
    status: str = Field(description="queued, building, deploying, succeeded, failed or cancelled")
    release: int | None = None
    build_id: str | None
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class DeployPage(BaseModel):
    items: list[DeployRead]
    next_cursor: str | None


class ReleaseRead(BaseModel):
    version: int
    id: str
    build_id: str
    commit: str | None = Field(description="the git commit its build was made from")
    description: str
    config_names: list[str]
    secrets: dict[str, int] = Field(description="NAME -> version of the secrets it runs with")
    current: bool
    created_at: datetime


class NameChangesRead(BaseModel):
    added: list[str]
    changed: list[str]
    removed: list[str]


class ReleaseChangesRead(BaseModel):
    """What changed against the release before: names only, never a value."""

    previous: int | None = Field(description="version of the release before (None: the first)")
    previous_commit: str | None
    config: NameChangesRead
    secrets: NameChangesRead = Field(description="secrets added, removed or at a new version")


class ReleaseDetail(ReleaseRead):
    changes: ReleaseChangesRead


class ReleasePage(BaseModel):
    items: list[ReleaseRead]
    next_cursor: str | None


class DeployCreate(Input):
    """A deploy of the service's branch head: no fields yet, so any field is a mistake (422)."""


class RollbackIn(Input):
    release: int | None = Field(None, ge=1, description="release number; default the previous")
