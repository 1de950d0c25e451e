from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictStr

from skyforge.api.rest.schemas.base import Input


class LogDrainCreate(Input):
    url: StrictStr = Field(
        max_length=2048,
        description="syslog+tcp://, syslog+udp://, syslog+tls://host:port; https:// (NDJSON "
        "batches); loki+http(s)://host/loki/api/v1/push",
    )


class LogDrainRead(BaseModel):
    id: str
    service: str
    url: str
    created_at: datetime
    delivered: int = Field(description="lines forwarded so far")
    failures: int = Field(description="consecutive failed attempts (0: delivering)")
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="set while backing off")


class LogDrainPage(BaseModel):
    items: list[LogDrainRead]
    next_cursor: str | None
