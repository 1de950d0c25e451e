"""Secrets of a project: /api/v1/projects/{project}/secrets, and master key rotation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from skyforge.api.auth import Caller, allow
from skyforge.api.deps import PlatformDep
from skyforge.api.pagination import Cursor, Limit, decode, page
from skyforge.api.rest.schemas.secrets import (
    KeyRotationRead,
    SecretPage,
    SecretPut,
    SecretRead,
    SecretValueRead,
    SecretVersionPage,
    SecretVersionRead,
)
from skyforge.deploys import queries as deploy_queries
from skyforge.deploys.model import Release
from skyforge.identity.permissions import Scope
from skyforge.projects import queries as project_queries
from skyforge.secrets import queries
from skyforge.secrets.commands import DeleteSecret, RevealSecret, RotateMasterKey, SetSecret
from skyforge.secrets.events import MasterKeyRotated
from skyforge.secrets.model import Secret
from skyforge.services import queries as service_queries

router = APIRouter(prefix="/api/v1/projects/{project}/secrets", tags=["secrets"])
keys = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])


def read(s: Secret, running: Release | None = None) -> SecretRead:
    """A secret; with `running` (a service's current release), what of it that release runs."""
    return SecretRead(
        name=s.name,
        service=s.service,
        version=s.version,
        versions=s.versions,
        created_at=s.created_at,
        updated_at=s.updated_at,
        in_current_release=None if running is None else s.name in running.secrets,
        current_release_version=None if running is None else running.secrets.get(s.name),
    )


@router.get("", response_model=SecretPage, dependencies=[Depends(allow("project.read"))])
async def list_secrets(
    project: str,
    platform: PlatformDep,
    service: Annotated[str | None, Query(max_length=63, description="only those it sees")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Names, scopes and versions of a project's secrets, oldest first; never their values.

    With `service`: also which of them (and which version) its running release carries."""
    await project_queries.get_project(project, platform.uow())
    service_id, running = None, None
    if service is not None:
        service_id = (await service_queries.get_service(project, service, platform.uow())).id
        running = await deploy_queries.current_release(service_id, platform.uow())
    found = await queries.list_secrets(project, service_id, decode(cursor), limit, platform.uow())
    return page([read(s, running) for s in found], limit, found[-1].id if found else "")


@router.put(
    "/{name}",
    response_model=SecretRead,
    responses={201: {"model": SecretRead, "description": "the secret was created"}},
    dependencies=[Depends(allow("secret.write"))],
)
async def put_secret(
    project: str, name: str, body: SecretPut, platform: PlatformDep, response: Response
) -> SecretRead:
    """Set a secret's value: 201 when new, 200 for a new version; its services get a release."""
    secret, created = await platform.bus.handle(SetSecret(project, name, body.value, body.service))
    response.status_code = 201 if created else 200
    return read(secret)


@router.get("/{name}", response_model=SecretRead, dependencies=[Depends(allow("project.read"))])
async def get_secret(project: str, name: str, platform: PlatformDep) -> SecretRead:
    """One secret's name, scope and versions; never its value."""
    return read(await queries.get_secret(project, name, platform.uow()))


@router.get(
    "/{name}/versions",
    response_model=SecretVersionPage,
    dependencies=[Depends(allow("project.read"))],
)
async def list_versions(project: str, name: str, platform: PlatformDep) -> dict[str, Any]:
    """The kept versions of a secret, newest first; never their values."""
    found = await queries.list_versions(project, name, platform.uow())
    items = [
        SecretVersionRead(version=v.version, key_id=v.sealed.key_id, created_at=v.created_at)
        for v in found
    ]
    return {"items": items, "next_cursor": None}


@router.get(
    "/{name}/value",
    response_model=SecretValueRead,
    dependencies=[Depends(allow("secret.read"))],
)
async def reveal_secret(
    project: str,
    name: str,
    platform: PlatformDep,
    version: Annotated[int | None, Query(ge=1, description="default: the current one")] = None,
) -> SecretValueRead:
    """The value of a secret (developers and up); every read is in the audit log."""
    secret, number, value = await platform.bus.handle(RevealSecret(project, name, version))
    return SecretValueRead(name=secret.name, service=secret.service, version=number, value=value)


@router.delete("/{name}", status_code=204, dependencies=[Depends(allow("secret.write"))])
async def delete_secret(project: str, name: str, platform: PlatformDep) -> Response:
    """Delete a secret and every version of it; its services get a new release."""
    await platform.bus.handle(DeleteSecret(project, name))
    return Response(status_code=204)


@keys.post("/rotate-key", response_model=KeyRotationRead)
async def rotate_key(platform: PlatformDep, caller: Caller) -> KeyRotationRead:
    """Re-wrap every secret's data key under a new master key (organization admins only)."""
    command = RotateMasterKey(caller.org_admin, caller.scope == Scope.ADMIN)
    done: MasterKeyRotated = await platform.bus.handle(command)
    return KeyRotationRead(
        active_key_id=done.key_id, rewrapped=done.rewrapped, retired=list(done.retired)
    )
