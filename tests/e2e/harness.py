"""A real `skyforge up` process for end-to-end tests and benchmarks."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support import WHO_AM_I, free_port, make_git_repo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SKYFORGE = Path(sys.prefix) / "bin" / "skyforge"
TOKEN = "e2e-admin-token-0123456789abcdef"

# A test app: answers with what the test needs to see (pid, release, config), logs a line per
# request, and has a worker process type that is not routed.
PROBE_APP = {
    "app.py": WHO_AM_I
    + """
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ME = who_am_i()  # its pid inside its sandbox is no use outside

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"pid": ME, "release": os.environ.get("SKYFORGE_RELEASE"),
                           "greeting": os.environ.get("GREETING", "hello"),
                           "process": os.environ.get("SKYFORGE_PROCESS")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
""",
    "worker.py": """
import os, time
while True:
    print("worker tick", os.environ.get("SKYFORGE_RELEASE"), flush=True)
    time.sleep(0.5)
""",
    "Procfile": "web: python app.py\nworker: python worker.py\n",
    "requirements.txt": "# no dependencies\n",
}


@dataclass
class SkyForge:
    """One `skyforge up` process on its own data dir and ports."""

    data_dir: Path
    api_port: int = field(default_factory=free_port)
    edge_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SKYFORGE_DATA_DIR": str(self.data_dir),
            "SKYFORGE_API_PORT": str(self.api_port),
            "SKYFORGE_EDGE_PORT": str(self.edge_port),
            "SKYFORGE_ADMIN_TOKEN": TOKEN,
            "SKYFORGE_URL": self.url,
            "SKYFORGE_TOKEN": TOKEN,
            "SKYFORGE_RECONCILE_INTERVAL": "0.5",
            "SKYFORGE_DRAIN_SECONDS": "0.3",
            "SKYFORGE_STOP_GRACE": "3",
        }

    def start(
        self,
        admin_token: str | None = TOKEN,
        extra_env: dict[str, str] | None = None,
        split_output: bool = False,
    ) -> None:
        """Start `skyforge up`; admin_token=None lets it generate one. Its output goes to
        up.log, or with split_output stdout (the announcement) to up.out and the logs there."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.env, **(extra_env or {})}
        if admin_token is None:
            env.pop("SKYFORGE_ADMIN_TOKEN")
        out_name = "up.out" if split_output else "up.log"
        # The child keeps its own copies of the files.
        with (
            open(self.data_dir / out_name, "ab") as out,
            open(self.data_dir / "up.log", "ab") as err,
        ):
            self.proc = subprocess.Popen(
                [str(SKYFORGE), "up"],
                env=env,
                stdout=out,
                stderr=err if split_output else subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"skyforge up exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"skyforge up did not become ready:\n{self.log()}")

    @contextmanager
    def running(
        self,
        admin_token: str | None = TOKEN,
        extra_env: dict[str, str] | None = None,
        split_output: bool = False,
    ) -> Iterator[SkyForge]:
        """Started for the block; stopped, with the clients it made closed, after it."""
        try:
            self.start(admin_token, extra_env, split_output)
            yield self
        finally:
            self.stop()
            for client in self.clients:
                client.close()
            self.clients.clear()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        finally:
            self.proc = None

    def log(self) -> str:
        path = self.data_dir / "up.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self) -> httpx.Client:
        """An API client with the admin token (closed when the fixture ends)."""
        client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        self.clients.append(client)
        return client

    def cli(
        self, *args: str, check: bool = True, env_extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "XDG_CONFIG_HOME": str(self.data_dir / "xdg"), **(env_extra or {})}
        done = subprocess.run(
            [str(SKYFORGE), *args], env=env, capture_output=True, text=True, timeout=300
        )
        if check and done.returncode != 0:
            raise AssertionError(f"skyforge {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def get(self, host: str, path: str = "/", timeout: float = 10) -> tuple[int, str]:
        """GET through the edge router with a Host header."""
        conn = http.client.HTTPConnection("127.0.0.1", self.edge_port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def wait_for(self, host: str, predicate: Any, timeout: float = 30) -> str:
        """Poll the edge until `host` answers 200 with a body satisfying predicate; the body."""
        return self._poll(host, lambda status, body: status == 200 and predicate(body), timeout)

    def wait_status(self, host: str, status: int, timeout: float = 15) -> str:
        """Poll the edge until `host` answers `status`; return the body."""
        return self._poll(host, lambda got, _body: got == status, timeout)

    def _poll(self, host: str, done: Any, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        last: tuple[int, str] = (0, "")
        while time.monotonic() < deadline:
            try:
                last = self.get(host)
                if done(*last):
                    return last[1]
            except OSError:
                pass  # the router was reloading its config
            time.sleep(0.1)
        raise AssertionError(f"{host}: no matching answer; last {last}\n{self.log()[-3000:]}")

    def instances(self) -> list[dict[str, Any]]:
        """The local runtime's record of running processes."""
        folder = self.data_dir / "run" / "instances"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def deploy_and_wait(
    api: httpx.Client, project: str, service: str, timeout: float = 240
) -> dict[str, Any]:
    started = api.post(f"/api/v1/projects/{project}/services/{service}/deploys")
    assert started.status_code == 202, started.text
    return wait_deploy(api, project, service, started.json()["id"], timeout)


def wait_deploy(
    api: httpx.Client, project: str, service: str, deploy_id: str, timeout: float = 240
) -> dict[str, Any]:
    url = f"/api/v1/projects/{project}/services/{service}/deploys/{deploy_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deploy: dict[str, Any] = api.get(url).json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        time.sleep(0.2)
    raise AssertionError(f"deploy {deploy_id} did not finish")


def example_repo(tmp_path: Path, name: str) -> Path:
    """A git repository with the files of examples/<name>."""
    dest = tmp_path / f"src-{name}"
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("node_modules"))
    files = {str(p.relative_to(dest)): p.read_text() for p in dest.rglob("*") if p.is_file()}
    shutil.rmtree(dest)
    return make_git_repo(dest, files)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"
