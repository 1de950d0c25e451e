"""Helpers shared by the test suites (not fixtures: those live in the conftest files)."""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.adapters.builders.stack import system_python
from skyforge.adapters.sql.outbox import SqlOutbox
from skyforge.api import deadlines
from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.config import Settings

# Test apps run in the sandbox, which sees the system but not SkyForge's virtualenv.
APP_PYTHON = Path(system_python())

# How a test app names its process: inside its sandbox it sees only its own pid namespace, so it
# says its pid there, when it started (clock ticks since boot: the same inside and outside) and
# a random part (two instances may start in the same tick); host_pids() finds it from outside.
WHO_AM_I = """
def who_am_i():
    import os, secrets
    stat = open("/proc/self/stat").read()
    started = stat[stat.rfind(")") + 2:].split()[19]
    return f"{os.getpid()}.{started}.{secrets.token_hex(4)}"
"""


def host_pids(token: str) -> list[int]:
    """The host pids of the live process a test app named with who_am_i() (none: gone)."""
    inner, started = token.split(".")[:2]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[19] != started or fields[0] in "ZX":
            continue
        nspid = next((ln.split()[1:] for ln in status.splitlines() if ln.startswith("NSpid:")), [])
        if nspid and nspid[-1] == inner:
            found.append(int(entry.name))
    return found


def gone(token: str) -> bool:
    """The process a test app named runs no more (a zombie nobody reaped counts as gone)."""
    return not host_pids(token)


def ticking_app(interval: float, first_line: str = "") -> dict[str, str]:
    """The files of an app that prints `first_line` (if any), then `tick N` every `interval`
    seconds, and answers "ok" on the port given as its argument."""
    app = f"""
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if {first_line!r}:
    print({first_line!r}, flush=True)

def tick():
    n = 0
    while True:
        print(f"tick {{n}}", flush=True)
        n += 1
        time.sleep({interval})

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

threading.Thread(target=tick, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""
    return {"Procfile": "web: python3 app.py $PORT\n", "app.py": app}


def trickle(sock: socket.socket, data: bytes, every: float = 0.2, within: float = 15.0) -> bytes:
    """Send `data` a byte every `every` seconds (then nothing more) until the server closes the
    connection; what it answered. Fails if it is still open after `within` seconds."""
    answer, sent = b"", 0
    deadline = time.monotonic() + within
    sock.settimeout(every)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:  # nothing from the server for `every` seconds: the next byte
            if sent < len(data):
                try:
                    sock.sendall(data[sent : sent + 1])
                except (BrokenPipeError, ConnectionResetError):
                    return answer
                sent += 1
            continue
        except ConnectionResetError:
            return answer
        if not chunk:
            return answer
        answer += chunk
    raise AssertionError(f"the connection is still open after {within} s: {answer!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def eventually(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait until `check()` (a plain or an async callable) is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def all_published(platform: Platform) -> bool:
    """Every event written so far has left the outbox (reached every sink)."""
    return (await SqlOutbox(platform.engine).lag())[0] == 0


async def stored_bytes(engine: AsyncEngine, url: str) -> bytes:
    """What reading the database gives: the SQLite files' raw bytes (free pages and the WAL
    included), or every value of every PostgreSQL table (bytea as it is, the rest as JSON)."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    found = bytearray()
    async with engine.connect() as conn:
        schema = MetaData()
        await conn.run_sync(schema.reflect)
        for table in schema.tables.values():
            for row in await conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        found += bytes(value)
                    else:
                        found += json.dumps(value, default=str).encode()
                    found += b"\n"
    return bytes(found)


def local_api_settings(data_dir: Path, admin_token: str, **extra: Any) -> Settings:
    """Settings of an API on a free port that runs apps with the local runtime (no edge)."""
    return Settings(
        data_dir=data_dir,
        runtime="local",
        edge="null",
        admin_token=admin_token,
        api_port=free_port(),
        reconcile_interval=0.5,
        drain_seconds=0.1,
        stop_grace=2,
        **extra,
    )


def client_of(platform: Platform, token: str) -> httpx.AsyncClient:
    """An API client of `platform`, in process, authenticated with `token`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(platform)),
        base_url="http://skyforge.test",
        headers={"Authorization": f"Bearer {token}"},
    )


def make_git_repo(
    path: Path, files: dict[str, str], branch: str = "main", links: dict[str, str] | None = None
) -> Path:
    """A git repository at `path` with `files` (and symlinks `links`: name -> target)
    committed on `branch` (a new commit if it exists)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    for name, target in (links or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).symlink_to(target)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", branch, str(path)], check=True)
    subprocess.run([*git, "-C", str(path), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(path), "commit", "-q", "-m", "commit"], check=True)
    return path


@contextmanager
def api_server(settings: Settings) -> Iterator[str]:
    """A SkyForge API served by uvicorn from a background thread; yields its base URL."""
    platform = Platform(settings)
    config = uvicorn.Config(
        create_app(platform, manage_lifecycle=True),
        host="127.0.0.1",
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http=deadlines.protocol(settings.header_timeout, settings.body_timeout),  # as `up` does
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.api_port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the SkyForge API did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
