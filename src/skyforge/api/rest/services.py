"""Services and their config vars: /api/v1/projects/{project}/services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Response
from fastapi.responses import JSONResponse

from skyforge.api.auth import allow
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Limit, decode, page
from skyforge.api.rest.schemas.services import (
    ServiceCreate,
    ServicePage,
    ServiceRead,
    ServiceUpdate,
    SourceRead,
)
from skyforge.bootstrap import Platform
from skyforge.deploys import queries as deploy_queries
from skyforge.identity.model import Principal
from skyforge.kernel.errors import Invalid
from skyforge.kernel.names import dns_label
from skyforge.projects import queries as project_queries
from skyforge.runtimes.base import ObservedApp
from skyforge.services import queries
from skyforge.services.commands import CreateService, DeleteService, SetConfigVars, UpdateService
from skyforge.services.model import ONE_OFF_TYPES, Service

router = APIRouter(prefix="/api/v1/projects/{project}/services", tags=["services"])


async def read(platform: Platform, s: Service, seen: dict[str, ObservedApp]) -> ServiceRead:
    release = await deploy_queries.current_release(s.id, platform.uow())
    types = await platform.process_types(s.id) or set()
    scale = {t: s.count(t) for t in sorted(types | set(s.scale)) if t not in ONE_OFF_TYPES}
    observed = seen.get(s.key)
    if release is None:
        status = "not deployed"
    elif observed is None or observed.release_id != release.id:
        status = "starting"
    elif scale and not any(scale.values()):
        status = "stopped"  # scaled to 0: nothing runs, by the user's choice
    elif observed.crashed or not observed.healthy:
        status = "crashed"
    else:
        status = "running"
    port = platform.settings.edge_port
    return ServiceRead(
        id=s.id,
        name=s.name,
        project=s.project,
        source=SourceRead(git=s.source.shown, branch=s.source.branch),
        scale=scale,
        health_check_path=s.health_check_path,
        boot_timeout=s.boot_timeout,
        resources=s.resources,
        url=f"http://{s.hostname}:{port}/",
        release=release.version if release else None,
        status=status,
        maintenance=s.maintenance,
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


@router.post("", status_code=201, response_model=ServiceRead)
async def create_service(
    project: str,
    body: ServiceCreate,
    platform: PlatformDep,
    caller: Annotated[Principal, Depends(allow("service.create"))],
) -> ServiceRead:
    """Register a service built from a git repository (URL or local path) and branch."""
    await project_queries.get_project(project, platform.uow())
    service = await platform.bus.handle(
        CreateService(
            project,
            dns_label(body.name, "service name"),
            body.source.git,
            body.source.branch,
            body.health_check_path,
            boot_timeout=body.boot_timeout,
            org_admin=caller.org_admin,
        )
    )
    return await read(platform, service, {})


@router.get("", response_model=ServicePage, dependencies=[Depends(allow("service.read"))])
async def list_services(
    project: str, platform: PlatformDep, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, object]:
    """A project's services, oldest first."""
    await project_queries.get_project(project, platform.uow())
    found = await queries.list_services(project, decode(cursor), limit, platform.uow())
    seen = await platform.runtime.observe()
    return page(
        [await read(platform, s, seen) for s in found], limit, found[-1].id if found else ""
    )


@router.get("/{service}", response_model=ServiceRead, dependencies=[Depends(allow("service.read"))])
async def get_service(project: str, service: str, platform: PlatformDep) -> ServiceRead:
    """One service with its current release and state."""
    found = await platform.cache.service(project, service)  # without config vars: not read
    return await read(platform, found, await platform.runtime.observe())


@router.patch("/{service}", response_model=ServiceRead)
async def update_service(
    project: str,
    service: str,
    body: ServiceUpdate,
    platform: PlatformDep,
    caller: Annotated[Principal, Depends(allow("service.update"))],
) -> ServiceRead:
    """Scale process types ({"scale": {"web": 3}}), set the health check path or the source."""
    updated = await platform.bus.handle(
        UpdateService(
            project,
            service,
            scale=body.scale,
            health_check_path=body.health_check_path,
            resources=body.resources,
            boot_timeout=_boot_timeout(body),
            git=body.source.git if body.source else None,
            branch=body.source.branch if body.source else None,
            org_admin=caller.org_admin,
            maintenance=body.maintenance,
        )
    )
    return await read(platform, updated, await platform.runtime.observe())


def _boot_timeout(body: ServiceUpdate) -> int | None:
    """The command's value: None leaves it, 0 (from null) resets it to the default."""
    if "boot_timeout" not in body.model_fields_set:
        return None
    return body.boot_timeout or 0


@router.delete("/{service}", status_code=204, dependencies=[Depends(allow("service.delete"))])
async def delete_service(project: str, service: str, platform: PlatformDep) -> Response:
    """Delete a service; its processes stop and its route goes away."""
    await platform.bus.handle(DeleteService(project, service))
    return Response(status_code=204)


def _etag(service: Service) -> str:
    return f'"{service.config_version}"'


def _versions(if_match: str) -> frozenset[int] | None:
    """The config versions an If-Match header names (None for `*`: whatever is there)."""
    if if_match.strip() == "*":
        return None
    tags = (tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(","))
    return frozenset(int(tag) for tag in tags if tag.isdigit() and len(tag) <= 18)


def _env(service: Service) -> JSONResponse:
    return JSONResponse(service.config, headers={"ETag": _etag(service)})


@router.get(
    "/{service}/env",
    response_model=dict[str, str],
    dependencies=[Depends(allow("config.read"))],
    responses={200: {"headers": {"ETag": {"description": "the config version, for If-Match"}}}},
)
async def get_env(project: str, service: str, platform: PlatformDep) -> JSONResponse:
    """The service's config vars; the ETag names their version (for the PATCH's If-Match)."""
    return _env(await queries.get_service(project, service, platform.uow()))


@router.patch(
    "/{service}/env",
    response_model=dict[str, str],
    dependencies=[Depends(allow("config.write"))],
    responses={
        200: {"headers": {"ETag": {"description": "the config version now"}}},
        412: {"description": "If-Match names a version that is no longer the current one"},
    },
)
async def patch_env(
    project: str,
    service: str,
    platform: PlatformDep,
    body: Annotated[dict[str, Any], Body(examples=[{"GREETING": "hi", "OLD": None}])],
    if_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> JSONResponse:
    """Set (string) or unset (null) config vars; a change rolls out a new release.

    With If-Match (an ETag from GET .../env), 412 when the config vars changed since."""
    if any(v is not None and not isinstance(v, str) for v in body.values()):
        raise Invalid("config var values must be strings or null")
    expected = _versions(if_match) if if_match is not None else None
    changed: Service = await platform.bus.handle(
        SetConfigVars(project, service, body, expected_versions=expected)
    )
    return _env(changed)
