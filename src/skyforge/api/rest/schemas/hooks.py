from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from skyforge.api.rest.schemas.base import Input


class HookCreate(Input):
    provider: str = Field(examples=["github"], description="github or gitlab")


class HookRead(BaseModel):
    id: str
    provider: str
    url: str = Field(description="the payload URL to give the provider")
    created_at: datetime


class HookCreated(HookRead):
    secret: str = Field(description="shown once: the provider's webhook secret / token")


class HookPage(BaseModel):
    items: list[HookRead]
    next_cursor: str | None


class PreviewRead(BaseModel):
    name: str = Field(description="the preview service, in the same project")
    number: int = Field(description="the pull/merge request number")
    url: str
    created_at: datetime


class PreviewPage(BaseModel):
    items: list[PreviewRead]
    next_cursor: str | None


class DeliveryResult(BaseModel):
    action: str = Field(description="deploy, preview, preview_deleted or ignored")
    service: str | None
    deploy_id: str | None
    detail: str
