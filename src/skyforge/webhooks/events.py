"""Events of the webhooks context. They name the target's host only: a webhook URL often
carries a credential in its path or query (Slack, Discord), and events reach the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class WebhookCreated(Event):
    type: ClassVar[str] = "webhook.created"
    project: str
    webhook_id: str
    host: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class WebhookUpdated(Event):
    type: ClassVar[str] = "webhook.updated"
    project: str
    webhook_id: str
    host: str
    events: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class WebhookDeleted(Event):
    type: ClassVar[str] = "webhook.deleted"
    project: str
    webhook_id: str


@dataclass(frozen=True)
class WebhookSecretRotated(Event):
    type: ClassVar[str] = "webhook.secret_rotated"
    project: str
    webhook_id: str
