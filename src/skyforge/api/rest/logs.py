"""A running app's output: searched (JSON), streamed live (Server-Sent Events) or as text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from skyforge.api.auth import allow, still_allowed
from skyforge.api.deps import PlatformDep
from skyforge.api.streams import guarded, sse_error
from skyforge.bootstrap import Platform
from skyforge.deploys import queries as deploy_queries
from skyforge.kernel.errors import Invalid, NotFound
from skyforge.runtimes.base import LogLine, LogQuery

router = APIRouter(prefix="/api/v1/projects/{project}/services/{service}", tags=["logs"])

HEARTBEAT_SECONDS = 15.0  # an SSE comment this often keeps proxies from closing the stream
_QUEUE = 1000  # lines buffered between the file reader and a slow client
_RELATIVE = re.compile(r"^(\d{1,9})(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PROCESS = r"^[a-z][a-z0-9_-]{0,29}(\.[0-9]{1,4})?$"


def parse_time(value: str | None, name: str, now: float) -> float | None:
    """RFC 3339 (`2026-11-25T01:00:00Z`) or relative to now (`15m`, `2h`, `30s`, `1d`)."""
    if value is None or value == "":
        return None
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - int(relative[1]) * _UNITS[relative[2]]
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name}: expected RFC 3339 (2026-01-31T12:00:00Z) or 15m, 2h, 1d") from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


class _Versions:
    """Release id -> version number, looked up once per id through the deploys queries."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.known: dict[str, int | None] = {}

    async def of(self, release_id: str) -> int | None:
        if release_id not in self.known:
            self.known[release_id] = await deploy_queries.release_version(
                release_id, self.platform.uow()
            )
        return self.known[release_id]

    async def item(self, line: LogLine) -> dict[str, Any]:
        return {
            "time": rfc3339(line.time),
            "release": await self.of(line.release_id) if line.release_id else None,
            "release_id": line.release_id or None,
            "process": line.source,
            "line": line.line,
        }


async def _release_id(platform: Platform, service_id: str, release: str | None) -> str | None:
    """A release given by id, or by number (`3` or `v3`)."""
    if not release:
        return None
    number = release.removeprefix("v")
    if not number.isdigit():
        return release
    found = await deploy_queries.list_releases(service_id, int(number) + 1, 1, platform.uow())
    if not found or found[0].version != int(number):
        raise NotFound(f"no release v{number}")
    return found[0].id


@router.get(
    "/logs",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/plain": {},
                "application/json": {},
                "text/event-stream": {},
            },
            "description": "Text by default; a search page for Accept: application/json; "
            "live events for Accept: text/event-stream",
        }
    },
    dependencies=[Depends(allow("service.logs"))],
)
async def app_logs(
    request: Request,
    project: str,
    service: str,
    platform: PlatformDep,
    follow: bool = False,
    tail: int = Query(100, ge=0, le=10000),
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="text, any case")] = None,
    release: Annotated[str | None, Query(max_length=40, description="id, or 3 / v3")] = None,
    process: Annotated[str | None, Query(pattern=_PROCESS)] = None,
    limit: int = Query(100, ge=1, le=1000),
    cursor: Annotated[str | None, Query(max_length=4000)] = None,
    last_event_id: Annotated[str | None, Header(max_length=4000)] = None,
) -> Response:
    """The running app's output (every process): searched, followed live, or as text.

    Every filter (since, until, q, release, process) holds for each form: the text and the
    live stream start with the last `tail` lines matching them, and follow only those."""
    found = await platform.cache.service(project, service)
    accept = request.headers.get("accept", "")
    check, every = still_allowed(request, "service.logs"), platform.settings.stream_recheck_seconds
    now = time.time()
    query = LogQuery(
        since=parse_time(since, "since", now),
        until=parse_time(until, "until", now),
        text=q or None,
        release_id=await _release_id(platform, found.id, release),
        process=process,
        limit=limit,
    )
    filters = query if any((since, until, q, release, process)) else None
    if "text/event-stream" in accept:
        resume = last_event_id or cursor
        lines = platform.runtime.logs(
            found.key, follow=True, tail=tail, cursor=resume, query=filters
        )
        return StreamingResponse(
            guarded(
                _events(lines, _Versions(platform)),
                check,
                every,
                sse_error,
                stopping=platform.stopping,
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    if "application/json" in accept:
        result = await platform.runtime.search_logs(found.key, replace(query, after=cursor))
        versions = _Versions(platform)
        items = [await versions.item(line) for line in result.items]
        body = {"items": items, "next_cursor": result.next_cursor}
        return Response(json.dumps(body), media_type="application/json")

    async def text() -> AsyncIterator[str]:
        async for entry in platform.runtime.logs(
            found.key, follow=follow, tail=tail, query=filters
        ):
            at = datetime.fromtimestamp(entry.time or time.time(), UTC)
            yield f"{at.isoformat(timespec='seconds')} {entry.source}: {entry.line}\n"

    return StreamingResponse(
        guarded(text(), check, every, stopping=platform.stopping),
        media_type="text/plain; charset=utf-8",
    )


async def _pump(lines: AsyncIterator[LogLine], queue: asyncio.Queue[LogLine | None]) -> None:
    try:
        async for line in lines:
            await queue.put(line)  # a slow client holds the reader back: memory stays bounded
    finally:
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(None)


async def _events(lines: AsyncIterator[LogLine], versions: _Versions) -> AsyncIterator[str]:
    """`event: log` per line, `id:` its resume cursor; a comment every HEARTBEAT_SECONDS.

    The file reader runs as its own task so that a quiet app still gets heartbeats; whatever
    ends the stream (the client going away cancels this generator), the task and the files it
    reads are closed here.
    """
    queue: asyncio.Queue[LogLine | None] = asyncio.Queue(_QUEUE)
    pump = asyncio.ensure_future(_pump(lines, queue))
    try:
        yield "retry: 1000\n: following\n\n"
        while True:
            try:
                line = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if line is None:
                pump.result()  # the reader failed: say so by ending with its error
                return
            data = json.dumps(await versions.item(line))
            yield f"id: {line.cursor}\nevent: log\ndata: {data}\n\n"
    finally:
        pump.cancel()
        with contextlib.suppress(BaseException):
            await pump
        aclose = getattr(lines, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(BaseException):
                await aclose()
