"""`skyforge logs` filters combine: with each other, with --tail and with -f (the CLI against a
real API and the local runtime, two releases of an app with a web and a worker process)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.support import api_server, local_api_settings, make_git_repo

TOKEN = "filters-admin-token-0123456789abcdef"
SKYFORGE = Path(sys.executable).parent / "skyforge"
SVC = "/api/v1/projects/shop/services/web"
WEB = """
import os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RELEASE = os.environ["SKYFORGE_RELEASE"]

def tick():
    n = 0
    while True:
        print(f"web {RELEASE} tick {n}", flush=True)
        n += 1
        time.sleep(0.1)

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
WORKER = """
import os, time
n = 0
while True:
    print(f"worker {os.environ['SKYFORGE_RELEASE']} beat {n}", flush=True)
    n += 1
    time.sleep(0.1)
"""
FILES = {"Procfile": "web: python3 web.py $PORT\nworker: python3 worker.py\n"}
FILES |= {"web.py": WEB, "worker.py": WORKER}


def finished(api: httpx.Client, deploy_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while True:
        deploy: dict[str, object] = api.get(f"{SVC}/deploys/{deploy_id}").json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        assert time.monotonic() < deadline, deploy
        time.sleep(0.2)


def latest(api: httpx.Client, release: int) -> None:
    deadline = time.monotonic() + 120
    while api.get(SVC).json()["release"] != release or api.get(SVC).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The CLI's environment for an API (local runtime) where shop/web runs v2 with a web
    and a worker process, after v1 ran the same."""
    root = tmp_path_factory.mktemp("filters")
    repo = make_git_repo(root / "repo", FILES)
    settings = local_api_settings(root / "data", TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with api_server(settings) as url, httpx.Client(base_url=url, headers=headers) as api:
        assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        created = api.post(
            "/api/v1/projects/shop/services", json={"name": "web", "source": {"git": str(repo)}}
        )
        assert created.status_code == 201, created.text
        assert finished(api, api.post(f"{SVC}/deploys").json()["id"])["status"] == "succeeded"
        scaled = api.patch(SVC, json={"scale": {"web": 1, "worker": 1}})
        assert scaled.status_code == 200, scaled.text
        time.sleep(1.5)  # v1 has a few lines of each process
        assert api.patch(f"{SVC}/env", json={"COLOR": "blue"}).status_code == 200
        latest(api, 2)
        time.sleep(1.5)  # and so has v2
        yield {**os.environ, "SKYFORGE_URL": url, "SKYFORGE_TOKEN": TOKEN}


def logs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SKYFORGE), "logs", "web", "-p", "shop", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def lines(env: dict[str, str], *args: str) -> list[str]:
    done = logs(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def numbers(found: list[str]) -> list[int]:
    return [int(line.rsplit(" ", 1)[1]) for line in found]


def test_tail_counts_the_last_lines_that_match_the_text(env: dict[str, str]) -> None:
    found = lines(env, "--grep", "BEAT", "--tail", "3")
    assert len(found) == 3
    # The last ones: those of the worker of v2 (v1's stopped before), one after the other.
    assert all(" worker.1: worker v2 beat " in line for line in found), found
    assert numbers(found) == list(range(numbers(found)[0], numbers(found)[0] + 3))


def test_tail_counts_the_last_lines_of_a_process_and_of_a_release(env: dict[str, str]) -> None:
    worker = lines(env, "--process", "worker", "--tail", "2")
    assert len(worker) == 2 and all(" worker.1: worker v2 beat " in line for line in worker)
    everything_of_v1 = lines(env, "--release", "v1", "--tail", "10000")
    assert {line.split(" ")[2] for line in everything_of_v1} == {"web", "worker"}
    assert all(line.split(" ")[3] == "v1" for line in everything_of_v1), everything_of_v1
    assert lines(env, "--release", "1", "--tail", "2") == everything_of_v1[-2:]
    web_of_v1 = lines(env, "--release", "v1", "--process", "web", "--grep", "tick", "--tail", "4")
    assert len(web_of_v1) == 4 and all(" web.1: web v1 tick " in line for line in web_of_v1)
    assert web_of_v1 == [line for line in everything_of_v1 if " web.1: " in line][-4:]


def test_tail_counts_the_last_lines_since_a_time(env: dict[str, str]) -> None:
    assert len(lines(env, "--since", "1h", "--tail", "5")) == 5
    assert lines(env, "--since", "2099-01-01T00:00:00Z", "--tail", "5") == []


class Follower:
    """`skyforge logs -f ...` running; its lines as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [str(SKYFORGE), "logs", "web", "-p", "shop", "-f", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def take(self, count: int) -> list[str]:
        return [self.lines.get(timeout=30) for _ in range(count)]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def test_following_keeps_to_the_process_the_release_and_the_text(env: dict[str, str]) -> None:
    follower = Follower(env, "--process", "worker", "--release", "v2", "--grep", "BEAT")
    try:
        found = follower.take(12)  # the tail's lines, then new ones
    finally:
        follower.close()
    assert all(" worker.1: worker v2 beat " in line for line in found), found
    assert numbers(found) == list(range(numbers(found)[0], numbers(found)[0] + 12))


def test_following_with_a_tail_starts_with_the_last_matching_lines(env: dict[str, str]) -> None:
    old = lines(env, "--release", "v1", "--process", "web", "--tail", "3")
    follower = Follower(env, "--release", "v1", "--process", "web", "--tail", "3")
    try:
        assert follower.take(3) == old  # v1 is stopped: nothing new ever matches
    finally:
        follower.close()


def test_following_since_a_time_prints_nothing_older(env: dict[str, str]) -> None:
    since = datetime.now(UTC).replace(microsecond=0).timestamp() + 2
    at = datetime.fromtimestamp(since, UTC).isoformat().replace("+00:00", "Z")
    follower = Follower(env, "--since", at, "--tail", "100")
    try:
        found = follower.take(5)
    finally:
        follower.close()
    assert all(datetime.fromisoformat(line.split(" ")[0]).timestamp() >= since for line in found)


def test_following_up_to_a_time_is_refused(env: dict[str, str]) -> None:
    refused = logs(env, "-f", "--until", "1h")
    assert refused.returncode != 0
    assert "--until cannot be combined with -f" in refused.stderr
