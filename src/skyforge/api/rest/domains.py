"""Custom domains of a service: /api/v1/projects/{project}/services/{service}/domains."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from skyforge.api.auth import allow
from skyforge.api.deps import PlatformDep
from skyforge.api.rest.schemas.domains import (
    DomainCreate,
    DomainPage,
    DomainRead,
    TxtRecord,
    Verification,
)
from skyforge.domains import queries
from skyforge.domains.commands import AddDomain, RemoveDomain, VerifyDomain
from skyforge.domains.model import Domain
from skyforge.domains.verification import http_path, txt_name, txt_value

router = APIRouter(prefix="/api/v1/projects/{project}/services/{service}/domains", tags=["domains"])


def read(d: Domain) -> DomainRead:
    return DomainRead(
        hostname=d.hostname,
        service=d.service,
        status=d.status.value,
        reason=d.reason,
        redirect_https=d.redirect_https,
        verification=Verification(
            txt=TxtRecord(name=txt_name(d.hostname), value=txt_value(d.token)),
            http_url=f"http://{d.hostname}{http_path(d.token)}",
        ),
        created_at=d.created_at,
        verified_at=d.verified_at,
    )


@router.get("", response_model=DomainPage, dependencies=[Depends(allow("domain.read"))])
async def list_domains(project: str, service: str, platform: PlatformDep) -> dict[str, Any]:
    """A service's custom domains with their status and verification records."""
    found = await platform.domains.find_service(project, service)
    domains = await queries.list_domains(found.id, platform.uow())
    return {"items": [read(d) for d in domains], "next_cursor": None}


@router.post(
    "", status_code=201, response_model=DomainRead, dependencies=[Depends(allow("domain.manage"))]
)
async def add_domain(
    project: str, service: str, body: DomainCreate, platform: PlatformDep
) -> DomainRead:
    """Attach a hostname (pending): publish the TXT record or let the edge serve the token."""
    command = AddDomain(project, service, body.hostname, body.redirect_https)
    return read(await platform.bus.handle(command))


@router.post(
    "/{hostname}/verify",
    response_model=DomainRead,
    dependencies=[Depends(allow("domain.manage"))],
)
async def verify_domain(
    project: str, service: str, hostname: str, platform: PlatformDep
) -> DomainRead:
    """Check the token (DNS, then HTTP): ready and routed, failed with why, or still pending."""
    return read(await platform.bus.handle(VerifyDomain(project, service, hostname)))


@router.delete("/{hostname}", status_code=204, dependencies=[Depends(allow("domain.manage"))])
async def remove_domain(
    project: str, service: str, hostname: str, platform: PlatformDep
) -> Response:
    """Detach a hostname; the edge no longer routes it when this answers."""
    await platform.bus.handle(RemoveDomain(project, service, hostname))
    return Response(status_code=204)
