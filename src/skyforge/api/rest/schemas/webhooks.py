from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictStr

from skyforge.api.rest.schemas.base import Input

EventList = list[StrictStr]


class WebhookCreate(Input):
    url: StrictStr = Field(max_length=2048, description="http(s) URL the events are POSTed to")
    events: EventList = Field(
        min_length=1,
        max_length=50,
        description='event types ("deploy.succeeded", "deploy.*") or ["*"]',
    )


class WebhookUpdate(Input):
    url: StrictStr | None = Field(None, max_length=2048)
    events: EventList | None = Field(None, min_length=1, max_length=50)
    active: StrictBool | None = Field(None, description="false: no new deliveries")


class WebhookRead(BaseModel):
    id: str
    project: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="the signing secret: shown this once, store it now")


class WebhookPage(BaseModel):
    items: list[WebhookRead]
    next_cursor: str | None


class AttemptRead(BaseModel):
    at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status, if it answered")
    latency_ms: int | None
    error: str | None = Field(description="why there was no (2xx) answer")


class DeliveryRead(BaseModel):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending, succeeded or failed (gave up)")
    attempts: int
    next_attempt_at: datetime | None
    response_code: int | None = Field(description="of the last attempt")
    latency_ms: int | None = Field(description="of the last attempt")
    error: str | None = Field(description="of the last attempt")
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptRead] = Field(description="the latest attempts, oldest first")


class DeliveryDetail(DeliveryRead):
    body: str = Field(description="the JSON sent (the same bytes on every attempt)")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None
