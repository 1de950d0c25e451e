"""A service's processes: list them (ps), restart them, run a one-off command."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from skyforge.api.auth import allow, still_allowed
from skyforge.api.deps import PlatformDep
from skyforge.api.rest.deploys import read as read_deploy
from skyforge.api.rest.schemas.deploys import DeployRead
from skyforge.api.streams import guarded
from skyforge.deploys.commands import RestartService
from skyforge.kernel.errors import Invalid
from skyforge.runtimes.base import OneOff

router = APIRouter(prefix="/api/v1/projects/{project}/services/{service}", tags=["processes"])

EXIT_TRAILER = "skyforge-exit-status: "  # the last line of a run's output: its exit status
_PROCESS = r"^[a-z][a-z0-9_-]{0,29}$"


class ProcessRead(BaseModel):
    name: str = Field(examples=["web.1"])
    type: str
    index: int
    state: str = Field(description="starting, up, crashed (being restarted) or stopping")
    restarts: int
    started_at: datetime
    release: int
    port: int | None


class ProcessList(BaseModel):
    items: list[ProcessRead]


class RestartIn(BaseModel):
    process: Annotated[str | None, Field(pattern=_PROCESS, examples=["web"])] = None


class RunIn(BaseModel):
    command: Annotated[str, Field(min_length=1, max_length=4096, examples=["python manage.py"])]
    detach: bool = False


class RunStarted(BaseModel):
    id: str = Field(examples=["run.3"], description="its process name in the logs")


@router.get("/processes", response_model=ProcessList, dependencies=[Depends(allow("service.read"))])
async def list_processes(project: str, service: str, platform: PlatformDep) -> ProcessList:
    """Every instance of the service: type and index, state, restarts, start, release, port."""
    found = await platform.cache.service(project, service)
    items = [
        ProcessRead(
            name=p.name,
            type=p.type,
            index=p.index,
            state=p.state,
            restarts=p.restarts,
            started_at=datetime.fromtimestamp(p.started_at, UTC),
            release=p.version,
            port=p.port,
        )
        for p in await platform.runtime.processes(found.key)
    ]
    return ProcessList(items=items)


@router.post(
    "/restart",
    status_code=202,
    response_model=DeployRead,
    dependencies=[Depends(allow("service.deploy"))],
)
async def restart(
    project: str, service: str, platform: PlatformDep, body: RestartIn | None = None
) -> JSONResponse:
    """New instances of the current release (one process type, or all) replace the running
    ones with zero downtime: a deploy of kind `restart`, queued with the service's deploys."""
    process = body.process if body else None
    found = await platform.cache.service(project, service)
    types = await platform.process_types(found.id)
    if process is not None and types is not None and process not in types:
        raise Invalid(f"no process type {process!r} (the release has: {', '.join(sorted(types))})")
    deploy = await platform.bus.handle(RestartService(project, service, process))
    body_out = (await read_deploy(platform, service, deploy)).model_dump(mode="json")
    location = f"/api/v1/projects/{project}/services/{service}/deploys/{deploy.id}"
    return JSONResponse(body_out, status_code=202, headers={"Location": location})


@router.post(
    "/runs",
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: {
            "content": {"text/plain": {}},
            "description": "The output, then a last line `skyforge-exit-status: N`",
        },
        202: {"model": RunStarted, "description": "detached: started, output in the logs"},
    },
    dependencies=[Depends(allow("service.deploy"))],
)
async def run(
    request: Request, project: str, service: str, body: RunIn, platform: PlatformDep
) -> Response:
    """Run a command once in the current release's environment and sandbox (no shell: split
    like a Procfile command). Its output streams back; the last line is
    `skyforge-exit-status: N` (the X-Skyforge-Run header names it, e.g. run.3). With
    detach, 202 at once: its output goes to the logs as process run.N."""
    try:
        shlex.split(body.command)
    except ValueError as exc:
        raise Invalid(f"cannot parse the command: {exc}") from None
    found = await platform.cache.service(project, service)
    timeout = platform.settings.run_timeout
    started = await platform.runtime.run(found.key, body.command, timeout, detach=body.detach)
    headers = {"X-Skyforge-Run": started.name}
    if body.detach:
        return JSONResponse({"id": started.name}, status_code=202, headers=headers)
    check = still_allowed(request, "service.deploy")
    every = platform.settings.stream_recheck_seconds
    chunks = guarded(_with_status(started), check, every, stopping=platform.stopping)
    headers["Cache-Control"] = "no-cache"
    headers["X-Accel-Buffering"] = "no"
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8", headers=headers)


async def _with_status(started: OneOff) -> AsyncIterator[str]:
    """The run's lines, then the trailer line; a stream cut before it has no exit status."""
    async for line in started.output():
        yield line
    yield f"{EXIT_TRAILER}{started.exit_code}\n"
