"""Read side of inbound hooks: a service's hooks and its pull-request previews."""

from __future__ import annotations

from skyforge.webhooks.inbound.model import InboundHook, Preview
from skyforge.webhooks.inbound.ports import InboundUnitOfWork


async def hooks_of(service_id: str, uow: InboundUnitOfWork) -> list[InboundHook]:
    """A service's inbound hooks, oldest first (secrets are never read back)."""
    async with uow:
        return await uow.inbound_hooks.of_service(service_id)


async def previews_of(service_id: str, uow: InboundUnitOfWork) -> list[Preview]:
    """The preview services made for a service's open pull/merge requests."""
    async with uow:
        return await uow.previews.of_parent(service_id)
