"""A webhook receiver as a user would write one: it checks the signature and the timestamp
(refusing replays older than five minutes) before trusting a body. Runs in a thread."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE = 300  # seconds


def verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """The README's verification: parse t and v1, recompute, compare in constant time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > TOLERANCE:
        return False  # too old (or from the future): a replay
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answers: list[int] = field(default_factory=list)  # next status codes (then 200)
    redirect_to: str | None = None  # answer 307 to this URL
    got: list[Received] = field(default_factory=list)
    refused: int = 0  # requests whose signature did not verify

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Until `count` requests came (the platform's worker runs on this event loop)."""
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(self.got) >= count, f"got {len(self.got)} of {count}: {self.got}"
        return self.got

    def valid(self) -> list[Received]:
        return [r for r in self.got if r.valid]


@contextmanager
def receiver(path: str = "/hooks") -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if state.redirect_to is not None:
                state.got.append(Received(headers, body, False))
                self.send_response(307)
                self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            ok = verify(state.secret, headers.get("x-skyforge-signature", ""), body)
            state.got.append(Received(headers, body, ok))
            status = 400 if not ok else (state.answers.pop(0) if state.answers else 200)
            state.refused += not ok
            payload = b'{"ok": true}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
