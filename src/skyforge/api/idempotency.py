"""Idempotency-Key on every authenticated POST under /api/v1, as Stripe has it.

The first request with a key runs; its answer (status, body, Location/ETag) is kept for 24 h
and given again to every repeat of the same request by the same caller (with
`Idempotent-Replayed: true`), whichever replica it reaches. The same key with another request
(method, path, query or body) is 422; while the first copy still runs, 409. Answers of 5xx, or
a request that fails without answering, are not kept: a retry runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyforge.api.errors import problem
from skyforge.kernel.errors import SkyforgeError
from skyforge.kernel.idempotency import BUSY, MISMATCH, NEW, IdempotencyStore, Stored

HEADER = "idempotency-key"
MAX_KEY = 255
MAX_KEPT_BODY = 1024 * 1024
_REPLAYED = ("location", "etag", "content-type", "retry-after", "www-authenticate")
# The caller's user id for a bearer token; raises Unauthorized (or another typed error).
Authenticate = Callable[[str], Awaitable[str]]


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, store: IdempotencyStore, caller: Authenticate) -> None:
        self.app, self.store, self.caller = app, store, caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        path: str = scope.get("path", "")
        if key is None:
            return await self.app(scope, receive, send)
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/auth/"):
            return await self.app(scope, receive, send)
        if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
            detail = f"the Idempotency-Key must be 1-{MAX_KEY} printable ASCII characters"
            return await problem(422, "Invalid input", detail)(scope, receive, send)
        caller = await self._caller(headers)
        if caller is None:
            return await self.app(scope, receive, send)  # the app answers 401 itself
        body, replay, complete = await _read_body(receive)
        if not complete:  # the client went away mid-body: nothing to remember
            return await self.app(scope, replay, send)
        fingerprint = _fingerprint(scope, body)
        claim = await self.store.claim(caller, key, fingerprint)
        if claim is MISMATCH:
            detail = "this Idempotency-Key was used with another request: use a new key"
            return await problem(422, "Invalid input", detail)(scope, receive, send)
        if claim is BUSY:
            detail = "a request with this Idempotency-Key is still running: retry later"
            return await problem(409, "Conflict", detail)(scope, receive, send)
        if claim is not NEW:
            assert isinstance(claim, Stored)
            return await _replay(claim, send)
        await self._run(scope, replay, send, caller, key)

    async def _caller(self, headers: Headers) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            user_id = await self.caller(token.strip())
        except SkyforgeError:
            return None
        return hashlib.sha256(user_id.encode()).hexdigest()

    async def _run(self, scope: Scope, receive: Receive, send: Send, caller: str, key: str) -> None:
        status, kept, chunks, size = 0, [], [], 0
        keep = True

        async def recording_send(message: Message) -> None:
            nonlocal status, kept, size, keep
            if message["type"] == "http.response.start":
                status = int(message["status"])
                kept = [
                    (k.decode("latin-1").lower(), v.decode("latin-1"))
                    for k, v in message.get("headers", ())
                    if k.decode("latin-1").lower() in _REPLAYED
                ]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                keep = keep and size <= MAX_KEPT_BODY
                if keep:
                    chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except BaseException:
            await self.store.release(caller, key)
            raise
        if status and status < 500 and keep:
            await self.store.complete(caller, key, Stored(status, kept, b"".join(chunks)))
        else:
            await self.store.release(caller, key)


async def _read_body(receive: Receive) -> tuple[bytes, Receive, bool]:
    """The whole body (bounded by the body limit outside), a receive that gives it again, and
    whether it arrived whole (not cut by a disconnect)."""
    chunks: list[bytes] = []
    last: Message = {"type": "http.disconnect"}
    while True:
        last = await receive()
        if last["type"] != "http.request":
            break
        chunks.append(last.get("body", b""))
        if not last.get("more_body", False):
            break
    body, given = b"".join(chunks), False
    whole = last["type"] == "http.request"

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False} if whole else last
        return await receive()

    return body, replay, whole


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope.get("path", ""), scope.get("query_string", b"")):
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\x00")
    digest.update(body)
    return digest.hexdigest()


async def _replay(stored: Stored, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
    headers += [
        (b"content-length", str(len(stored.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
