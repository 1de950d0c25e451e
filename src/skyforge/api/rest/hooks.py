"""Inbound git-provider hooks: managed per service; deliveries posted by GitHub and GitLab.

The receiving endpoint `POST /hooks/{hook_id}` takes no bearer token: the provider's signature
(GitHub) or token (GitLab) is the authentication, and a delivery id seen before is refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from skyforge.api.auth import allow
from skyforge.api.deps import PlatformDep
from skyforge.api.rest.schemas.hooks import (
    DeliveryResult,
    HookCreate,
    HookCreated,
    HookPage,
    HookRead,
    PreviewPage,
    PreviewRead,
)
from skyforge.bootstrap import Platform
from skyforge.services import queries as service_queries
from skyforge.webhooks.inbound import queries
from skyforge.webhooks.inbound.commands import (
    CreateInboundHook,
    DeleteInboundHook,
    ReceiveDelivery,
)
from skyforge.webhooks.inbound.handlers import CreatedHook, Outcome
from skyforge.webhooks.inbound.model import InboundHook

router = APIRouter(prefix="/api/v1/projects/{project}/services/{service}", tags=["hooks"])
receiver = APIRouter(tags=["hooks"])


def _read(platform: Platform, hook: InboundHook) -> HookRead:
    url = f"{platform.settings.api_url.rstrip('/')}/hooks/{hook.id}"
    return HookRead(id=hook.id, provider=hook.provider, url=url, created_at=hook.created_at)


async def _service_id(platform: Platform, project: str, service: str) -> str:
    return (await service_queries.get_service(project, service, platform.uow())).id


@router.post(
    "/hooks",
    status_code=201,
    response_model=HookCreated,
    dependencies=[Depends(allow("hook.manage"))],
)
async def create_hook(
    project: str, service: str, body: HookCreate, platform: PlatformDep
) -> HookCreated:
    """A payload URL and secret for GitHub or GitLab: pushes deploy, pull requests preview."""
    made: CreatedHook = await platform.bus.handle(
        CreateInboundHook(project, service, body.provider)
    )
    return HookCreated(**_read(platform, made.hook).model_dump(), secret=made.secret)


@router.get("/hooks", response_model=HookPage, dependencies=[Depends(allow("service.read"))])
async def list_hooks(project: str, service: str, platform: PlatformDep) -> HookPage:
    """The service's inbound hooks (their secrets are never shown again)."""
    sid = await _service_id(platform, project, service)
    found = await queries.hooks_of(sid, platform.uow())
    return HookPage(items=[_read(platform, h) for h in found], next_cursor=None)


@router.delete("/hooks/{hook_id}", status_code=204, dependencies=[Depends(allow("hook.manage"))])
async def delete_hook(project: str, service: str, hook_id: str, platform: PlatformDep) -> Response:
    """Remove a hook: its URL answers 404 from now on."""
    await platform.bus.handle(DeleteInboundHook(project, service, hook_id))
    return Response(status_code=204)


@router.get("/previews", response_model=PreviewPage, dependencies=[Depends(allow("service.read"))])
async def list_previews(project: str, service: str, platform: PlatformDep) -> PreviewPage:
    """The preview services of the service's open pull/merge requests."""
    sid = await _service_id(platform, project, service)
    port = platform.settings.edge_port
    items = [
        PreviewRead(
            name=p.name,
            number=p.number,
            url=f"http://{p.name}.{project}.localhost:{port}/",
            created_at=p.created_at,
        )
        for p in await queries.previews_of(sid, platform.uow())
    ]
    return PreviewPage(items=items, next_cursor=None)


@receiver.post("/hooks/{hook_id}", response_model=DeliveryResult)
async def receive(hook_id: str, request: Request, platform: PlatformDep) -> JSONResponse:
    """A delivery from GitHub or GitLab: 401 bad signature, 404 unknown hook, 409 replay."""
    headers = tuple((k.lower(), v) for k, v in request.headers.items())
    outcome: Outcome = await platform.bus.handle(
        ReceiveDelivery(hook_id, headers, await request.body())
    )
    result = DeliveryResult(
        action=outcome.action,
        service=outcome.service,
        deploy_id=outcome.deploy_id,
        detail=outcome.detail,
    )
    return JSONResponse(result.model_dump(), status_code=202 if outcome.deploy_id else 200)
