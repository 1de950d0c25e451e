from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictInt

from skyforge.api.rest.schemas.base import Input
from skyforge.services.model import MAX_BOOT_TIMEOUT


class SourceIn(Input):
    git: str = Field(max_length=2048, description="git URL or local path of a git repository")
    branch: str = Field("main", max_length=255)


class SourceChange(Input):
    git: str | None = Field(
        None, max_length=2048, description="git URL or local path; absent: the same repository"
    )
    branch: str | None = Field(None, max_length=255, description="absent: the same branch")


class ServiceCreate(Input):
    name: str = Field(max_length=63, examples=["web"])
    source: SourceIn
    health_check_path: str | None = Field(None, max_length=255, examples=["/health"])
    boot_timeout: StrictInt | None = Field(None, ge=1, le=MAX_BOOT_TIMEOUT, examples=[120])


class ServiceUpdate(Input):
    scale: dict[str, StrictInt] | None = Field(None, examples=[{"web": 3}])
    health_check_path: str | None = Field(None, max_length=255)
    resources: dict[str, StrictInt | None] | None = Field(
        None,
        description="limits of its processes: memory_mb (MiB per process), open_files (per "
        "process), processes (all of the service's at once); of its builds: build_memory_mb, "
        "build_cpu_seconds (per process); null: back to the default",
        examples=[{"memory_mb": 256, "processes": 64}],
    )
    boot_timeout: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_BOOT_TIMEOUT,
        description="seconds a new web process may take to answer its health check "
        "(2xx/3xx from health_check_path); null: back to the default (SKYFORGE_BOOT_TIMEOUT)",
        examples=[120],
    )
    source: SourceChange | None = None
    maintenance: StrictBool | None = Field(
        None, description="true: the edge answers a 503 maintenance page; the app keeps running"
    )


class SourceRead(BaseModel):
    git: str
    branch: str


class ServiceRead(BaseModel):
    id: str
    name: str
    project: str
    source: SourceRead
    scale: dict[str, int]
    health_check_path: str | None = Field(description='null: "/"')
    boot_timeout: int | None = Field(description="seconds; null: the default")
    resources: dict[str, int] = Field(description="its own limits (the others: the defaults)")
    url: str
    release: int | None = Field(description="version of the current release")
    status: str = Field(
        description="not deployed, starting, running, crashed (instances keep dying) or "
        "stopped (scaled to 0)"
    )
    maintenance: bool = Field(description="the edge answers a 503 maintenance page for it")
    created_at: datetime
    updated_at: datetime


class ServicePage(BaseModel):
    items: list[ServiceRead]
    next_cursor: str | None
