from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from skyforge.api.rest.schemas.base import Input


class ProjectCreate(Input):
    name: str = Field(max_length=63, examples=["shop"])


class ProjectRead(BaseModel):
    id: str
    name: str
    environments: list[str]
    created_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectRead]
    next_cursor: str | None
