"""The SSE stream of app logs: heartbeats while quiet, nothing left running once it ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from skyforge.api.rest import logs as routes
from skyforge.runtimes.base import LogLine


class Versions:
    async def item(self, line: LogLine) -> dict[str, Any]:
        return {"line": line.line, "process": line.source}


async def test_a_quiet_stream_gets_heartbeats_and_ends_without_leftovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "HEARTBEAT_SECONDS", 0.05)
    state = {"closed": False}
    go = asyncio.Event()

    async def lines() -> AsyncIterator[LogLine]:
        try:
            yield LogLine(1.0, "web.1", "first", "r1", "f1.1:10")
            await go.wait()  # a quiet app
            yield LogLine(2.0, "web.1", "second", "r1", "f1.1:20")
            await asyncio.sleep(3600)
        finally:
            state["closed"] = True

    before = len(asyncio.all_tasks())
    stream = routes._events(lines(), Versions())  # type: ignore[arg-type]
    assert (await anext(stream)).startswith("retry: 1000\n")
    first = await anext(stream)
    assert first.startswith("id: f1.1:10\nevent: log\ndata: ")
    assert json.loads(first.split("data: ", 1)[1]) == {"line": "first", "process": "web.1"}
    assert await anext(stream) == ": keep-alive\n\n"
    go.set()
    second = await anext(stream)
    while second.startswith(":"):
        second = await anext(stream)
    assert second.startswith("id: f1.1:20\n")
    await stream.aclose()  # what Starlette does when the client goes away
    assert state["closed"]
    assert len(asyncio.all_tasks()) == before  # the reader task is gone too
