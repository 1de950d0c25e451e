from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictStr

from skyforge.api.rest.schemas.base import Input


class DomainCreate(Input):
    hostname: StrictStr = Field(max_length=1024, description="e.g. shop.example.com")
    redirect_https: StrictBool = Field(False, description="send plain HTTP requests to HTTPS")


class TxtRecord(BaseModel):
    name: str = Field(description="the TXT record to create, e.g. _skyforge-challenge.shop.com")
    value: str


class Verification(BaseModel):
    txt: TxtRecord
    http_url: str = Field(description="or: this URL answers the token (the edge serves it)")


class DomainRead(BaseModel):
    hostname: str
    service: str
    status: str = Field(description="pending, ready (routed) or failed")
    reason: str | None = Field(description="what the last verification found")
    redirect_https: bool
    verification: Verification
    created_at: datetime
    verified_at: datetime | None


class DomainPage(BaseModel):
    items: list[DomainRead]
    next_cursor: str | None
