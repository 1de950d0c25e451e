"""Commands of the webhooks context."""

from __future__ import annotations

from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class CreateWebhook(Command):
    project: str
    url: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class UpdateWebhook(Command):
    project: str
    webhook_id: str
    url: str | None = None
    events: tuple[str, ...] | None = None
    active: bool | None = None


@dataclass(frozen=True)
class DeleteWebhook(Command):
    project: str
    webhook_id: str


@dataclass(frozen=True)
class RotateWebhookSecret(Command):
    project: str
    webhook_id: str


@dataclass(frozen=True)
class PingWebhook(Command):
    project: str
    webhook_id: str


@dataclass(frozen=True)
class Redeliver(Command):
    project: str
    webhook_id: str
    delivery_id: str
