"""Long responses (log streams, SSE, clones) end soon after their caller loses access.

A stream was authorized once, when it opened; it may then run for hours. `guarded` runs the
same authentication and authorization again every `every` seconds while it runs, whether or not
chunks flow (a quiet log stream is checked too), and ends the stream when they fail: a revoked
token, a logged-out session, a member removed from the project, a role that lost the right.
The checks go through the platform's cache (one lookup in memory or Redis), which the events of
those changes invalidate, so a check costs little and sees a change at once.

A stream also ends when the server stops (`stopping` is set): a follower would otherwise keep
`skyforge up` from exiting. Clients that follow (the CLI, browsers' EventSource) reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from skyforge.kernel.errors import SkyforgeError

log = logging.getLogger(__name__)

T = TypeVar("T")
Check = Callable[[], Awaitable[object]]  # raises when the caller may no longer read the stream


class _AccessUnknown(SkyforgeError):
    status = 503
    title = "Service unavailable"


async def guarded(
    chunks: AsyncIterator[T],
    check: Check,
    every: float,
    refused: Callable[[SkyforgeError], T] | None = None,
    *,
    stopping: asyncio.Event,
) -> AsyncIterator[T]:
    """`chunks`, as long as `check()` passes every `every` seconds and `stopping` is not set;
    when the check fails, one last chunk `refused(error)` (if given) and the end. An access
    that cannot be confirmed (the database is away) ends the stream too: a client reconnects,
    and is checked afresh."""
    loop = asyncio.get_running_loop()
    iterator = aiter(chunks)
    next_check = loop.time() + every
    pending: asyncio.Future[T] | None = None
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            if pending is None:
                # A task of its own, kept across checks: waiting for it never loses a chunk.
                pending = asyncio.ensure_future(anext(iterator))
            wait = max(0.0, next_check - loop.time())
            waiting: set[asyncio.Future[Any]] = {pending, stopped}
            await asyncio.wait(waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if stopped.done():
                return
            if loop.time() >= next_check:
                failure = await refusal(check)
                if failure is not None:
                    if refused is not None:
                        yield refused(failure)
                    return
                next_check = loop.time() + every
            if not pending.done():
                continue
            done, pending = pending, None
            try:
                chunk = done.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        stopped.cancel()
        # Closed in a task of its own, after the chunk being awaited is cancelled: this
        # generator may itself be cancelled again at every await (the server's cancel scope).
        if pending is not None:
            pending.cancel()
            pending.add_done_callback(lambda _: _close(iterator))
        else:
            _close(iterator)


_closing: set[asyncio.Task[None]] = set()


def _close(iterator: AsyncIterator[object]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return

    async def run() -> None:
        with contextlib.suppress(Exception):
            await aclose()

    task = asyncio.ensure_future(run())
    _closing.add(task)  # referenced until done: a task nobody holds may be collected
    task.add_done_callback(_closing.discard)


async def refusal(check: Check) -> SkyforgeError | None:
    """Why `check` refuses now (None: it passes); an error it did not type is a refusal."""
    try:
        await check()
    except SkyforgeError as exc:
        return exc
    except Exception:
        log.warning("could not re-check the access of a stream: ending it", exc_info=True)
        return _AccessUnknown("access could not be checked again; reconnect")
    return None


def sse_error(error: SkyforgeError) -> str:
    """The last event of a Server-Sent Events stream whose caller lost access."""
    body = {"type": "about:blank", "title": error.title, "status": error.status}
    data = json.dumps({**body, "detail": error.detail})
    return f"event: error\ndata: {data}\n\n"
