"""Slow clients on the API: a request trickled a byte at a time is cut off after a bound.

Raw sockets against a real uvicorn (the protocol `skyforge up` serves with), with bounds of about
a second so the suite stays quick; the defaults are 10 s for headers and 60 s for a body.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from tests.support import api_server, free_port, trickle

from skyforge.config import Settings

TOKEN = "slow-clients-admin-token-0123456789"
HEADER_TIMEOUT, BODY_TIMEOUT = 1.0, 1.5


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("slow"),
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        api_port=free_port(),
        header_timeout=HEADER_TIMEOUT,
        body_timeout=BODY_TIMEOUT,
    )
    with api_server(settings):
        yield settings.api_port


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=15)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (its body framed by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    top, _, body = data.partition(b"\r\n\r\n")
    lengths = [line for line in top.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    length = int(lengths[0].split(b":")[1]) if lengths else 0
    while len(body) < length:
        body += sock.recv(65536)
    return top + b"\r\n\r\n" + body


def head(method: str, path: str, **headers: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: api.test",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_client_trickling_its_headers_is_cut_off_with_a_408(port: int) -> None:
    endless = head("GET", "/healthz", **{"X-Filler": "a" * 400})  # a byte every 0.2 s: 80 s
    with connect(port) as sock:
        answer = trickle(sock, endless)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer


def test_a_connection_that_never_sends_a_request_is_closed(port: int) -> None:
    with connect(port) as sock:
        assert trickle(sock, b"") == b""


def test_a_kept_alive_connection_trickling_its_next_request_is_cut_off(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(head("GET", "/healthz"))
        first = read_response(sock)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n"), first
        answer = trickle(sock, head("GET", "/healthz", **{"X-Filler": "a" * 400}))
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer


def test_a_client_trickling_a_body_the_api_reads_gets_a_408_and_is_cut_off(port: int) -> None:
    body = json.dumps({"name": "x" * 500}).encode()
    start = head(
        "POST",
        "/api/v1/projects",
        Authorization=f"Bearer {TOKEN}",
        **{"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    with connect(port) as sock:
        sock.sendall(start + body[:10])
        answer = trickle(sock, body[10:])
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout", answer
    headers, _, problem = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in headers.lower()
    assert b"connection: close" in headers.lower()
    assert json.loads(problem)["detail"] == "the request body did not arrive in time"


def test_a_trickled_body_nobody_reads_does_not_hold_the_connection(port: int) -> None:
    start = head("POST", "/healthz", **{"Content-Length": "1000"})  # GET only: answered unread
    with connect(port) as sock:
        sock.sendall(start)
        answer = trickle(sock, b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), answer


def test_prompt_clients_are_served_on_a_kept_alive_connection(port: int) -> None:
    body = json.dumps({"name": "prompt"}).encode()
    create = head(
        "POST",
        "/api/v1/projects",
        Authorization=f"Bearer {TOKEN}",
        **{"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    with connect(port) as sock:
        for part in (create[:20], create[20:], body[:5], body[5:]):  # in pieces, but in time
            sock.sendall(part)
            time.sleep(0.1)
        created = read_response(sock)
        sock.sendall(head("GET", "/healthz"))
        again = read_response(sock)
    assert created.startswith(b"HTTP/1.1 201 Created\r\n"), created
    assert again.startswith(b"HTTP/1.1 200 OK\r\n"), again


def test_a_big_body_sent_at_a_steady_rate_may_take_longer_than_the_bound(port: int) -> None:
    body = json.dumps({"name": "steady", "padding": "x" * (256 * 1024)}).encode()
    start = head(
        "POST",
        "/api/v1/projects",
        Authorization=f"Bearer {TOKEN}",
        **{"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    with connect(port) as sock:
        sock.sendall(start)
        began = time.monotonic()
        for offset in range(0, len(body), 16 * 1024):  # 16 KiB every 0.15 s: ~2.5 s in all
            sock.sendall(body[offset : offset + 16 * 1024])
            time.sleep(0.15)
        took = time.monotonic() - began
        answer = read_response(sock)
    assert took > BODY_TIMEOUT  # so the allowance for what arrived is what let it through
    assert answer.startswith(b"HTTP/1.1 422 "), answer  # read and judged: unknown field
