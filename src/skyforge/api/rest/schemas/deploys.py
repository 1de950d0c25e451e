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
    description: str
    config_names: list[str]
    current: bool
    created_at: datetime


class ReleasePage(BaseModel):
    items: list[ReleaseRead]
    next_cursor: str | None


class DeployCreate(Input):
    """A deploy of the service's branch head: no fields yet, so any field is a mistake (422)."""


class RollbackIn(Input):
    release: int | None = Field(None, ge=1, description="release number; default the previous")
