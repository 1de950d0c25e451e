"""Deploys, releases, rollback and logs of a service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, StreamingResponse

from skyforge.api.auth import allow, still_allowed
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Limit, decode, page
from skyforge.api.rest.schemas.deploys import (
    DeployCreate,
    DeployPage,
    DeployRead,
    NameChangesRead,
    ReleaseChangesRead,
    ReleaseDetail,
    ReleasePage,
    ReleaseRead,
    RollbackIn,
)
from skyforge.api.streams import guarded
from skyforge.bootstrap import Platform
from skyforge.deploys import queries
from skyforge.deploys.commands import CancelDeploy, RequestDeploy, RollBack
from skyforge.deploys.model import Deploy, NameChanges, Release, name_changes
from skyforge.kernel.errors import Invalid

router = APIRouter(prefix="/api/v1/projects/{project}/services/{service}", tags=["deploys"])


async def read(platform: Platform, service: str, d: Deploy) -> DeployRead:
    version = await queries.release_version(d.release_id, platform.uow()) if d.release_id else None
    return DeployRead(
        id=d.id,
        service=service,
        kind=d.kind,
        status=d.status,
        release=version,
        build_id=d.build_id,
        error=d.error,
        cancel_requested=d.cancel_requested,
        created_at=d.created_at,
        started_at=d.started_at,
        finished_at=d.finished_at,
    )


async def _service_id(platform: Platform, project: str, service: str) -> str:
    return (await platform.cache.service(project, service)).id


async def _accepted(platform: Platform, project: str, service: str, deploy: Deploy) -> JSONResponse:
    body = (await read(platform, service, deploy)).model_dump(mode="json")
    location = f"/api/v1/projects/{project}/services/{service}/deploys/{deploy.id}"
    return JSONResponse(body, status_code=202, headers={"Location": location})


@router.post(
    "/deploys",
    status_code=202,
    response_model=DeployRead,
    dependencies=[Depends(allow("service.deploy"))],
)
async def create_deploy(
    project: str, service: str, platform: PlatformDep, body: DeployCreate | None = None
) -> JSONResponse:
    """Build the branch head and roll it out; answers at once, the work runs in the background."""
    deploy = await platform.bus.handle(RequestDeploy(project, service))
    return await _accepted(platform, project, service, deploy)


@router.get("/deploys", response_model=DeployPage, dependencies=[Depends(allow("service.read"))])
async def list_deploys(
    project: str, service: str, platform: PlatformDep, limit: Limit = 20, cursor: Cursor = None
) -> dict[str, object]:
    """Deploys, newest first."""
    sid = await _service_id(platform, project, service)
    found = await queries.list_deploys(sid, decode(cursor), limit, platform.uow())
    items = [await read(platform, service, d) for d in found]
    return page(items, limit, found[-1].id if found else "")


@router.get(
    "/deploys/{deploy_id}", response_model=DeployRead, dependencies=[Depends(allow("service.read"))]
)
async def get_deploy(
    project: str, service: str, deploy_id: str, platform: PlatformDep
) -> DeployRead:
    """One deploy and its status."""
    sid = await _service_id(platform, project, service)
    return await read(platform, service, await queries.get_deploy(sid, deploy_id, platform.uow()))


@router.post(
    "/deploys/{deploy_id}/cancel",
    status_code=202,
    response_model=DeployRead,
    dependencies=[Depends(allow("service.deploy"))],
)
async def cancel_deploy(
    project: str, service: str, deploy_id: str, platform: PlatformDep
) -> DeployRead:
    """Stop a queued or running deploy; the current release keeps serving."""
    deploy = await platform.bus.handle(CancelDeploy(project, service, deploy_id))
    return await read(platform, service, deploy)


@router.get(
    "/deploys/{deploy_id}/logs",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}}}},
    dependencies=[Depends(allow("service.read"))],
)
async def deploy_logs(
    request: Request,
    project: str,
    service: str,
    deploy_id: str,
    platform: PlatformDep,
    follow: bool = True,
) -> StreamingResponse:
    """Build and rollout output, streamed until the deploy finishes (follow=false: so far)."""
    sid = await _service_id(platform, project, service)
    await queries.get_deploy(sid, deploy_id, platform.uow())

    async def lines() -> AsyncIterator[str]:
        seq, finished = 0, False
        while True:
            batch = await queries.read_log(deploy_id, seq, 500, platform.uow())
            for number, line in batch:
                seq = number
                yield line + "\n"
            if batch:
                continue
            if finished or not follow:
                return
            # Once finished, read once more: lines flushed just before the finish.
            finished = (await queries.get_deploy(sid, deploy_id, platform.uow())).finished
            if not finished:
                await asyncio.sleep(0.25)

    check = still_allowed(request, "service.read")
    body = guarded(
        lines(), check, platform.settings.stream_recheck_seconds, stopping=platform.stopping
    )
    return StreamingResponse(body, media_type="text/plain; charset=utf-8")


@router.get("/releases", response_model=ReleasePage, dependencies=[Depends(allow("service.read"))])
async def list_releases(
    project: str, service: str, platform: PlatformDep, limit: Limit = 20, cursor: Cursor = None
) -> dict[str, object]:
    """Releases, newest first."""
    sid = await _service_id(platform, project, service)
    before = decode(cursor)
    if before is not None and not before.isdigit():
        raise Invalid("cursor is not one this API gave out")
    found = await queries.list_releases(sid, int(before) if before else None, limit, platform.uow())
    current = await queries.current_release(sid, platform.uow())
    commits = await platform.build_commits({r.build_id for r in found})
    items = [_release(r, current, commits[r.build_id]) for r in found]
    return page(items, limit, str(found[-1].version) if found else "")


@router.get(
    "/releases/{version}",
    response_model=ReleaseDetail,
    dependencies=[Depends(allow("service.read"))],
)
async def get_release(
    project: str,
    service: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    platform: PlatformDep,
) -> ReleaseDetail:
    """One release and what changed against the one before: config var and secret names
    added, changed or removed (never their values), and the commit."""
    sid = await _service_id(platform, project, service)
    release, previous = await queries.release_and_previous(sid, version, platform.uow())
    current = await queries.current_release(sid, platform.uow())
    ids = {release.build_id} | ({previous.build_id} if previous else set())
    commits = await platform.build_commits(ids)
    before_config: dict[str, object] = dict(previous.config) if previous else {}
    before_secrets: dict[str, object] = dict(previous.secrets) if previous else {}
    changes = ReleaseChangesRead(
        previous=previous.version if previous else None,
        previous_commit=commits[previous.build_id] if previous else None,
        config=_names(name_changes(dict(release.config), before_config)),
        secrets=_names(name_changes(dict(release.secrets), before_secrets)),
    )
    base = _release(release, current, commits[release.build_id])
    return ReleaseDetail(**base.model_dump(), changes=changes)


def _release(r: Release, current: Release | None, commit: str | None) -> ReleaseRead:
    return ReleaseRead(
        version=r.version,
        id=r.id,
        build_id=r.build_id,
        commit=commit,
        description=r.description,
        config_names=sorted(r.config),
        secrets=dict(r.secrets),
        current=current is not None and r.id == current.id,
        created_at=r.created_at,
    )


def _names(found: NameChanges) -> NameChangesRead:
    return NameChangesRead(
        added=list(found.added), changed=list(found.changed), removed=list(found.removed)
    )


@router.post(
    "/rollback",
    status_code=202,
    response_model=DeployRead,
    dependencies=[Depends(allow("service.deploy"))],
)
async def rollback(
    project: str, service: str, platform: PlatformDep, body: RollbackIn | None = None
) -> JSONResponse:
    """Roll back to release N (default: the previous one) as a new release, config included."""
    deploy = await platform.bus.handle(RollBack(project, service, body.release if body else None))
    return await _accepted(platform, project, service, deploy)
