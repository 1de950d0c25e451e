"""Read side of webhooks: a project's subscriptions and a webhook's delivery log."""

from __future__ import annotations

from skyforge.kernel.errors import NotFound
from skyforge.webhooks.model import Delivery, Webhook
from skyforge.webhooks.ports import WebhooksUnitOfWork


async def list_webhooks(project: str, uow: WebhooksUnitOfWork) -> list[Webhook]:
    """A project's webhooks, oldest first."""
    async with uow:
        return await uow.webhooks.of_project(project)


async def get_webhook(project: str, webhook_id: str, uow: WebhooksUnitOfWork) -> Webhook:
    async with uow:
        webhook = await uow.webhooks.get(project, webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook {webhook_id!r} in project {project!r}")
    return webhook


async def list_deliveries(
    project: str, webhook_id: str, before: str | None, limit: int, uow: WebhooksUnitOfWork
) -> list[Delivery]:
    """A webhook's deliveries, newest first."""
    async with uow:
        if await uow.webhooks.get(project, webhook_id) is None:
            raise NotFound(f"no webhook {webhook_id!r} in project {project!r}")
        return await uow.webhook_deliveries.page(webhook_id, before, limit)


async def get_delivery(
    project: str, webhook_id: str, delivery_id: str, uow: WebhooksUnitOfWork
) -> Delivery:
    async with uow:
        webhook = await uow.webhooks.get(project, webhook_id)
        found = (
            None if webhook is None else await uow.webhook_deliveries.get(webhook.id, delivery_id)
        )
    if found is None:
        raise NotFound(f"no delivery {delivery_id!r} of webhook {webhook_id!r}")
    return found
