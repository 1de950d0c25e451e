"""A service's log drains: where its app output is forwarded."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from skyforge.api.auth import allow
from skyforge.api.deps import PlatformDep
from skyforge.api.rest.schemas.log_drains import LogDrainCreate, LogDrainPage, LogDrainRead
from skyforge.logdrains import handlers
from skyforge.logdrains.commands import AddLogDrain, RemoveLogDrain
from skyforge.logdrains.model import LogDrain

router = APIRouter(prefix="/api/v1/projects/{project}/services/{service}/log-drains", tags=["logs"])


def read(drain: LogDrain, url: str) -> LogDrainRead:
    return LogDrainRead(
        id=drain.id,
        service=drain.service,
        url=url,
        created_at=drain.created_at,
        delivered=drain.delivered,
        failures=drain.failures,
        last_error=drain.last_error,
        next_attempt_at=drain.next_attempt_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=LogDrainRead,
    dependencies=[Depends(allow("logdrain.manage"))],
)
async def add_drain(
    project: str, service: str, body: LogDrainCreate, platform: PlatformDep
) -> LogDrainRead:
    """Forward the service's output from now on (targets on private networks are refused)."""
    drain = await platform.bus.handle(AddLogDrain(project, service, body.url))
    return read(drain, platform.logs.url_of(drain))


@router.get("", response_model=LogDrainPage, dependencies=[Depends(allow("logdrain.read"))])
async def list_drains(project: str, service: str, platform: PlatformDep) -> LogDrainPage:
    """The service's drains and how forwarding goes (a service has at most 10)."""
    found = await handlers.list_drains(project, service, platform.uow(), platform.logs.find_service)
    return LogDrainPage(items=[read(d, platform.logs.url_of(d)) for d in found], next_cursor=None)


@router.delete("/{drain_id}", status_code=204, dependencies=[Depends(allow("logdrain.manage"))])
async def remove_drain(
    project: str, service: str, drain_id: str, platform: PlatformDep
) -> Response:
    """Stop forwarding to a drain."""
    await platform.bus.handle(RemoveLogDrain(project, service, drain_id))
    return Response(status_code=204)
