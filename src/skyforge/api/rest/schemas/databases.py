from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from skyforge.api.rest.schemas.base import Input


class DatabaseCreate(Input):
    name: StrictStr = Field(max_length=63, description="a DNS label, unique in the project")
    engine: StrictStr = Field(description="postgres or redis")


class DatabaseDelete(Input):
    confirm: StrictStr = Field(max_length=63, description="the database's name, typed again")


class AttachmentCreate(Input):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    service: StrictStr = Field(max_length=63)
    var: StrictStr | None = Field(
        None,
        alias="as",
        max_length=255,
        description="the variable; default DATABASE_URL (postgres) or REDIS_URL (redis)",
    )


class RestoreCreate(Input):
    backup: StrictStr = Field(max_length=255, description="a backup id from .../backups")
    into: StrictStr = Field(max_length=63, description="the new database's name")


class AttachmentRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    service: str
    var: str = Field(alias="as")
    created_at: datetime


class DatabaseRead(BaseModel):
    name: str
    engine: str
    status: str = Field(description="pending, ready or failed")
    reason: str | None = Field(description="why it failed")
    resource: str = Field(description="the database (PostgreSQL) or user (Redis) on the server")
    key_prefix: str | None = Field(description="Redis: every key must start with it")
    attachments: list[AttachmentRead]
    created_at: datetime
    updated_at: datetime


class DatabaseList(BaseModel):
    items: list[DatabaseRead]


class BackupRead(BaseModel):
    id: str
    size: int
    sha256: str
    created_at: datetime


class BackupList(BaseModel):
    items: list[BackupRead]
