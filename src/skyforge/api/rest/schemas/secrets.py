from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictStr

from skyforge.api.rest.schemas.base import Input


class SecretPut(Input):
    value: StrictStr = Field(description="at most 64 KiB, no NUL byte; never shown in listings")
    service: StrictStr | None = Field(
        None, max_length=63, description="only this service sees it; default: every service"
    )


class SecretRead(BaseModel):
    name: str
    service: str | None = Field(description="the one service that sees it; null: all of them")
    version: int = Field(description="the current version")
    versions: int = Field(description="how many versions are kept")
    created_at: datetime
    updated_at: datetime
    in_current_release: bool | None = Field(
        None,
        description="listed with ?service=: does that service's running release carry it (a "
        "rollback runs the secret versions of the release it returns to); null otherwise, or "
        "before its first release",
    )
    current_release_version: int | None = Field(
        None, description="listed with ?service=: the version of it that release runs with"
    )


class SecretPage(BaseModel):
    items: list[SecretRead]
    next_cursor: str | None


class SecretVersionRead(BaseModel):
    version: int
    key_id: str = Field(description="the master key its data key is wrapped under")
    created_at: datetime


class SecretVersionPage(BaseModel):
    items: list[SecretVersionRead]
    next_cursor: str | None


class SecretValueRead(BaseModel):
    name: str
    service: str | None
    version: int
    value: str


class KeyRotationRead(BaseModel):
    active_key_id: str
    rewrapped: int = Field(description="data keys re-wrapped under the active master key")
    retired: list[str] = Field(description="master keys no secret needs any more")
