"""Slow-client protection: a request's headers and body must arrive within bounds.

A client that sends its request a byte at a time holds a connection (and, once the app reads
its body, a request task) for as long as it likes: enough of them and nobody else is served.
uvicorn bounds only the idle time between requests (timeout_keep_alive). So:

- `protocol(header_timeout, body_timeout)`: uvicorn's h11 protocol, closing a connection whose
  request head has not fully arrived `header_timeout` seconds after its first byte (or after
  the connection opened), and one that still trickles a body nobody reads once its response is
  sent. A head cut short gets a 408 first.
- `BodyDeadlineMiddleware`: a body the app reads must have arrived `body_timeout` seconds after
  the head, plus one second per 64 KiB received (a big `git push` over a slow link still goes
  through; a trickle does not); else 408, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import h11
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from skyforge.api.errors import problem

log = logging.getLogger(__name__)

ALLOWANCE_BYTES_PER_SECOND = 64 * 1024  # what a body must average to earn more time
_CLOSE = (b"connection", b"close")
_TOO_SLOW = b"the request headers did not arrive in time\n"
_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TOO_SLOW), _TOO_SLOW)
)


def protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """The h11 protocol class for uvicorn.Config(http=...), with these deadlines."""
    if header_timeout <= 0 or body_timeout <= 0:
        raise ValueError("the header and body timeouts must be positive")
    attrs = {"header_timeout": header_timeout, "body_timeout": body_timeout}
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), attrs)


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head and on unread bodies."""

    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._then: Callable[[], None] | None = None  # what the deadline does when it passes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline that applies in the connection's state now, or none."""
        if self.transport.is_closing():
            self._disarm()
        elif self.conn.their_state is h11.IDLE and self.timeout_keep_alive_task is None:
            # Waiting for a head (an idle kept-alive connection has uvicorn's own timer).
            self._arm(self.header_timeout, self._head_too_slow)
        elif self.conn.their_state is h11.SEND_BODY and self._answered():
            self._arm(self.body_timeout, self._body_too_slow)  # a body nobody will read
        else:
            self._disarm()

    def _answered(self) -> bool:
        return self.cycle is not None and self.cycle.response_complete

    def _arm(self, seconds: float, then: Callable[[], None]) -> None:
        """Start the deadline `then` unless it runs already (another one is replaced)."""
        if self._deadline is not None and self._then == then:
            return
        self._disarm()
        self._deadline, self._then = self.loop.call_later(seconds, then), then

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info("closing a connection: no complete request head in %s s", self.header_timeout)
        if self.conn.trailing_data[0]:  # part of a head came: say why before closing
            self.transport.write(_TIMEOUT_408)
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closing a connection: its request body is still coming after the answer")
            self.transport.close()


class _BodyTimeout(HTTPException):
    # An HTTPException: FastAPI turns any other error raised while it reads a body into a 400.
    def __init__(self) -> None:
        super().__init__(408, "the request body did not arrive in time")


class BodyDeadlineMiddleware:
    """408 (and the connection closed) for a body that does not arrive in time."""

    def __init__(self, app: ASGIApp, *, body_timeout: float) -> None:
        if body_timeout <= 0:
            raise ValueError("body_timeout must be positive")
        self.app, self.seconds = app, body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        opened, received, complete, started = loop.time(), 0, False, False
        timed_out = False

        async def bounded_receive() -> Message:
            nonlocal received, complete, timed_out
            if complete:
                return await receive()  # only a disconnect is left to wait for: unbounded
            allowed = self.seconds + received / ALLOWANCE_BYTES_PER_SECOND
            try:
                async with asyncio.timeout(max(0.0, opened + allowed - loop.time())):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise _BodyTimeout() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if timed_out:  # the 408 (the app's errors make it): the rest is never read
                    message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except _BodyTimeout:
            if started:
                raise  # too late for a 408: the server aborts the response
            response = problem(408, "Request Timeout", "the request body did not arrive in time")
            await response(scope, receive, watched_send)
