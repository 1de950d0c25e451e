"""Inbound hook use cases: create and delete hooks, receive a provider's delivery."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, NotFound, SkyforgeError
from skyforge.kernel.ids import new_id
from skyforge.webhooks.inbound import providers
from skyforge.webhooks.inbound.commands import (
    CreateInboundHook,
    DeleteInboundHook,
    ReceiveDelivery,
)
from skyforge.webhooks.inbound.events import InboundHookCreated, InboundHookDeleted
from skyforge.webhooks.inbound.model import (
    GITHUB,
    Delivery,
    InboundHook,
    Preview,
    PullRequest,
    Push,
    check_provider,
    preview_name,
)
from skyforge.webhooks.inbound.ports import Cipher, InboundUnitOfWork, ServiceInfo, Services


@dataclass(frozen=True)
class CreatedHook:
    hook: InboundHook
    secret: str  # shown once: only a sealed copy (GitHub) or a hash (GitLab) is kept


@dataclass(frozen=True)
class Outcome:
    """What a delivery did: deployed, made or removed a preview, or nothing."""

    action: str  # deploy, preview, preview_deleted, ignored
    service: str | None = None
    deploy_id: str | None = None
    detail: str = ""


def _binding(hook_id: str) -> bytes:
    return b"inbound-hook\x00" + hook_id.encode()


async def create_hook(
    cmd: CreateInboundHook, uow: InboundUnitOfWork, services: Services, cipher: Cipher
) -> CreatedHook:
    """A new hook for a service, with a fresh secret to paste into the provider's settings."""
    provider = check_provider(cmd.provider)
    service = await services.find(cmd.project, cmd.service)
    secret, hook_id = secrets.token_urlsafe(32), new_id()
    sealed = cipher.seal(secret.encode(), _binding(hook_id)) if provider == GITHUB else None
    digest = providers.token_hash(secret) if provider != GITHUB else None
    hook = InboundHook(
        hook_id,
        service.project_id,
        service.project,
        service.id,
        service.name,
        provider,
        now(),
        sealed,
        digest,
    )
    async with uow:
        await uow.inbound_hooks.add(hook)
        uow.emit(InboundHookCreated(cmd.project, cmd.service, hook_id, provider))
        await uow.commit()
    return CreatedHook(hook, secret)


async def key_ids_in_use(uow: InboundUnitOfWork, cipher: Cipher) -> set[str]:
    """The master keys the hooks' sealed secrets need (a key rotation must keep them)."""
    async with uow:
        found = await uow.inbound_hooks.sealed()
    return {cipher.key_id(h.sealed) for h in found if h.sealed is not None}


async def reseal_secrets(uow: InboundUnitOfWork, cipher: Cipher, active_key_id: str) -> int:
    """After a master key rotation: seal every hook secret under the active key; how many."""
    count = 0
    async with uow:
        for hook in await uow.inbound_hooks.sealed():
            assert hook.sealed is not None
            if cipher.key_id(hook.sealed) != active_key_id:
                secret = cipher.open(hook.sealed, _binding(hook.id))
                await uow.inbound_hooks.reseal(hook.id, cipher.seal(secret, _binding(hook.id)))
                count += 1
        await uow.commit()
    return count


async def delete_hook(cmd: DeleteInboundHook, uow: InboundUnitOfWork, services: Services) -> None:
    """Remove a hook: deliveries to its URL get 404 from now on."""
    service = await services.find(cmd.project, cmd.service)
    async with uow:
        hook = await uow.inbound_hooks.get(cmd.hook_id)
        if hook is None or hook.service_id != service.id:
            raise NotFound(f"no hook {cmd.hook_id!r}")
        await uow.inbound_hooks.delete(hook.id)
        uow.emit(InboundHookDeleted(cmd.project, cmd.service, hook.id))
        await uow.commit()


async def receive(
    cmd: ReceiveDelivery, uow: InboundUnitOfWork, services: Services, cipher: Cipher
) -> Outcome:
    """Verify a delivery (404 unknown hook, 401 bad signature, 409 replay), then act on it."""
    headers = dict(cmd.headers)
    async with uow:
        hook = await uow.inbound_hooks.get(cmd.hook_id)
    if hook is None:
        raise NotFound("no such hook")
    if hook.provider == GITHUB:
        assert hook.sealed is not None
        key = cipher.open(hook.sealed, _binding(hook.id))
        providers.verify_github(key, headers.get("x-hub-signature-256"), cmd.body)
    else:
        assert hook.secret_hash is not None
        providers.verify_gitlab(hook.secret_hash, headers.get("x-gitlab-token"))
    delivery = providers.parse(hook.provider, headers, cmd.body)
    async with uow:
        # Recorded before acting: two copies racing each other act once.
        if not await uow.inbound_deliveries.record(hook.id, delivery.id, delivery.event, now()):
            raise Conflict(f"delivery {delivery.id} was received before (a replay)")
        await uow.commit()
    try:
        service = await services.by_id(hook.service_id)
        if service is None:
            raise NotFound("the hook's service no longer exists")
        return await _act(delivery, service, uow, services)
    except SkyforgeError:
        # Nothing was done: a redelivery of the same id (GitHub keeps it) may try again.
        async with uow:
            await uow.inbound_deliveries.forget(hook.id, delivery.id)
            await uow.commit()
        raise


async def _act(
    delivery: Delivery, service: ServiceInfo, uow: InboundUnitOfWork, services: Services
) -> Outcome:
    if delivery.push is not None:
        return await _on_push(delivery.push, service, services)
    if delivery.pull is not None:
        if delivery.pull.action == "open":
            return await _open_preview(delivery.pull, service, uow, services)
        return await _close_preview(delivery.pull, service, uow, services)
    return Outcome("ignored", detail=f"nothing to do for {delivery.event or 'this event'}")


async def _on_push(push: Push, service: ServiceInfo, services: Services) -> Outcome:
    if push.commit is None or push.branch != service.branch:
        return Outcome("ignored", service.name, detail=f"{service.name} deploys {service.branch}")
    deploy_id = await services.deploy(service, push.branch, push.commit)
    return Outcome("deploy", service.name, deploy_id)


async def _open_preview(
    pull: PullRequest, parent: ServiceInfo, uow: InboundUnitOfWork, services: Services
) -> Outcome:
    """Create the preview on first sight (opened), then deploy the head commit (every time)."""
    services.check_branch(pull.branch)  # refused here, not later by the deploy's clone
    name = preview_name(parent.name, pull.number)
    async with uow:
        known = await uow.previews.get(parent.id, pull.number)
    preview = await services.by_id(known.service_id) if known else None
    if preview is None:
        preview = await services.create_preview(parent, name, pull.branch, fork=pull.fork)
        async with uow:
            if known is not None:
                await uow.previews.delete(known.service_id)
            await uow.previews.add(
                Preview(preview.id, parent.project_id, name, parent.id, pull.number, now())
            )
            await uow.commit()
    deploy_id = await services.deploy(preview, pull.branch, pull.commit)
    return Outcome("preview", preview.name, deploy_id)


async def _close_preview(
    pull: PullRequest, parent: ServiceInfo, uow: InboundUnitOfWork, services: Services
) -> Outcome:
    async with uow:
        known = await uow.previews.get(parent.id, pull.number)
    preview = await services.by_id(known.service_id) if known else None
    if known is None or preview is None:
        return Outcome("ignored", detail=f"no preview for #{pull.number}")
    await services.delete(preview.project, preview.name)
    async with uow:
        await uow.previews.delete(known.service_id)
        await uow.commit()
    return Outcome("preview_deleted", preview.name)
