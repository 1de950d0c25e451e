"""Secret values never reach an app's log files (or logs()) unmasked, adoption included."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support import APP_PYTHON, eventually

from skyforge.edge.null import NullEdge
from skyforge.runtimes.base import AppRelease, ProcessType
from skyforge.runtimes.local import LocalRuntime
from skyforge.runtimes.local.registry import Registry, app_to_json

KEY = "shop.web"
PYTHON = APP_PYTHON
SECRET = "s3cr3t-value-9f2c"
PLAIN = "plain-config-value"

APP = r"""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open("pids.txt", "a") as f:
    f.write(f"{os.getpid()}\n")
print(f"start token={os.environ['API_TOKEN']} greeting={os.environ['GREETING']}", flush=True)
print(f"to stderr {os.environ['API_TOKEN']}", file=sys.stderr, flush=True)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/pid":
            body = str(os.getpid())
        else:
            print(f"request {self.path} token={os.environ['API_TOKEN']}", flush=True)
            body = "ok"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

RELEASE = r"""
import os
print(f"migrating with {os.environ['API_TOKEN']} and {os.environ['GREETING']}", flush=True)
"""

HELPER = r"""
import asyncio, json, sys
from pathlib import Path
from skyforge.edge.null import NullEdge
from skyforge.runtimes.local import LocalRuntime
from skyforge.runtimes.local.registry import app_from_json

async def main():
    runtime = LocalRuntime(Path(sys.argv[1]), NullEdge(), drain_seconds=0.1, stop_grace=2)
    await runtime.start()
    await runtime.rollout(app_from_json(json.loads(sys.stdin.readline())), lambda line: None, 20)
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def make_app(root: Path) -> AppRelease:
    slug = root / "slug"
    slug.mkdir(exist_ok=True)
    (slug / "app.py").write_text(APP)
    (slug / "release.py").write_text(RELEASE)
    return AppRelease(
        key=KEY,
        hostnames=("web.shop.localhost",),
        release_id="rel1",
        version=1,
        slug_dir=slug,
        processes=(ProcessType("web", f"{PYTHON.name} app.py $PORT", 1),),
        env={"PATH": f"{PYTHON.parent}:/usr/bin:/bin", "API_TOKEN": SECRET, "GREETING": PLAIN},
        release_command=f"{PYTHON.name} release.py",
        secret_names=frozenset({"API_TOKEN"}),
    )


def pids(app: AppRelease) -> list[int]:
    path = app.slug_dir / "pids.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def log_text(data: Path) -> str:
    return "".join(p.read_text() for p in sorted((data / "logs" / "apps" / KEY).glob("*.log")))


async def get(address: str, path: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"http://{address}{path}")).text


def no_cmdline_holds_the_secret() -> bool:
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if SECRET.encode() in (entry / "cmdline").read_bytes():
                return False
    return True


@pytest.fixture(autouse=True)
def _no_orphans(tmp_path: Path) -> Iterator[None]:
    yield
    for pid in (
        (tmp_path / "slug" / "pids.txt").read_text().split()
        if (tmp_path / "slug" / "pids.txt").exists()
        else []
    ):
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(tmp_path):
                os.killpg(int(pid), signal.SIGKILL)


async def test_an_apps_secret_is_masked_in_its_log_file_and_in_logs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    edge = NullEdge()
    runtime = LocalRuntime(data, edge, drain_seconds=0.1, stop_grace=2)
    await runtime.start()
    try:
        app = make_app(tmp_path)
        await runtime.rollout(app, lambda line: None, 10)
        [address] = edge.upstreams[KEY]
        assert await get(address, "/hello") == "ok"
        await eventually(lambda: "request /hello" in log_text(data))
        text = log_text(data)
        assert f"start token=**** greeting={PLAIN}" in text
        assert "to stderr ****" in text
        assert "request /hello token=****" in text
        assert SECRET not in text
        lines = [line.line async for line in runtime.logs(KEY, follow=False, tail=20)]
        assert "request /hello token=****" in lines
        assert not any(SECRET in line for line in lines)
        assert no_cmdline_holds_the_secret()
    finally:
        await runtime.close()
    assert SECRET not in log_text(data)


async def test_the_release_phase_output_is_masked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = LocalRuntime(data, NullEdge(), drain_seconds=0.1, stop_grace=2)
    await runtime.start()
    deploy_log: list[str] = []
    try:
        await runtime.run_release_phase(make_app(tmp_path), deploy_log.append, 10)
    finally:
        await runtime.close()
    [path] = (data / "logs" / "apps" / KEY).glob("*.release.log")
    stamp, text = path.read_text().split(" ", 1)  # each stored line starts with its time
    assert text == f"migrating with **** and {PLAIN}\n"
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-25T01:22:08.123Z")
    assert deploy_log[-1] == f"migrating with **** and {PLAIN}"
    assert not any(SECRET in line for line in deploy_log)


async def test_output_stays_masked_after_the_control_plane_was_killed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = make_app(tmp_path)
    helper = subprocess.Popen(
        [sys.executable, "-c", HELPER, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert helper.stdin is not None and helper.stdout is not None
        helper.stdin.write(json.dumps(app_to_json(app)) + "\n")
        helper.stdin.flush()
        line = await asyncio.wait_for(asyncio.to_thread(helper.stdout.readline), 30)
        assert line.strip() == "ready"
    finally:
        helper.kill()
        helper.wait()
        for stream in (helper.stdin, helper.stdout):
            if stream is not None:
                stream.close()
    [pid] = pids(app)
    # The registry keeps which env names are secrets: a restart after adoption masks them too.
    [record] = Registry(data / "run").load()  # sealed: opened with the data dir's key file
    assert record.app.secret_names == {"API_TOKEN"}
    edge = NullEdge()
    runtime = LocalRuntime(data, edge, drain_seconds=0.1, stop_grace=2)
    try:
        await runtime.start()
        [address] = edge.upstreams[KEY]
        assert await get(address, "/pid") == str(pid)  # adopted, not restarted
        # The relay outlived the control plane that started it: the output still arrives.
        assert await get(address, "/after") == "ok"
        await eventually(lambda: "request /after token=****" in log_text(data))
        assert SECRET not in log_text(data)
    finally:
        await runtime.close()
    assert pids(app) == [pid]


# Each form of a secret, labelled; the app and its release phase print them, the test checks
# that none of them was stored.
FORMS = r"""
import base64, os, re
from urllib.parse import quote, quote_plus

def forms(value):
    data = value.encode()
    out = {"raw": value, "hex": data.hex(), "HEX": data.hex().upper()}
    for before in (b"", b"u", b"us", b"user:"):  # the secret at each alignment of a stream
        stream = before + data + b"!"
        out[f"base64+{len(before)}"] = base64.b64encode(stream).decode()
        out[f"base64url+{len(before)}"] = base64.urlsafe_b64encode(stream).decode().rstrip("=")
    out["quote"] = quote(value)
    out["quote_plus"] = quote_plus(value)
    out["quote-all"] = quote(value, safe="")
    out["quote-lower-hex"] = re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(value))
    return out

def print_forms(label):
    for name, form in forms(os.environ["API_TOKEN"]).items():
        print(f"{label} {name}: {form} .", flush=True)
"""
FORMS_APP = (
    FORMS
    + r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

print_forms("app")

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""
)
ENCODED_SECRET = "p@ss/w0rd+\u00dc=9f2c?x"


def printed_forms() -> dict[str, str]:
    scope: dict[str, Any] = {}
    exec(FORMS, scope)  # noqa: S102 -- the test's own code, the same the app runs
    printed: dict[str, str] = scope["forms"](ENCODED_SECRET)
    return printed


async def test_every_encoding_of_a_secret_printed_by_an_app_or_its_release_is_masked(
    tmp_path: Path,
) -> None:
    app = replace(
        make_app(tmp_path),
        env={"PATH": f"{PYTHON.parent}:/usr/bin:/bin", "API_TOKEN": ENCODED_SECRET},
    )
    (app.slug_dir / "app.py").write_text(FORMS_APP)
    (app.slug_dir / "release.py").write_text(FORMS + 'print_forms("release")\n')
    data = tmp_path / "data"
    runtime = LocalRuntime(data, NullEdge(), drain_seconds=0.1, stop_grace=2)
    await runtime.start()
    deploy_log: list[str] = []
    forms = printed_forms()
    try:
        await runtime.run_release_phase(app, deploy_log.append, 10)
        await runtime.rollout(app, lambda line: None, 10)
        await eventually(lambda: log_text(data).count(" app ") == len(forms))
    finally:
        await runtime.close()
    stored = log_text(data)
    lines = [line for line in stored.splitlines() if " app " in line or " release " in line]
    assert len(lines) == 2 * len(forms) == 2 * 15
    assert all("****" in line for line in lines)
    for name, form in forms.items():
        assert form not in stored, name
        assert not any(form in line for line in deploy_log), name
