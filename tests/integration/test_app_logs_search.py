"""App logs through the API and the CLI: search by text and time, live SSE that resumes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support import api_server, local_api_settings, make_git_repo, ticking_app

TOKEN = "logs-admin-token-0123456789abcdef"
SKYFORGE = Path(sys.executable).parent / "skyforge"
LOGS = "/api/v1/projects/shop/services/web/logs"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """A real API (local runtime) with shop/web deployed; its URL and the time before it."""
    root = tmp_path_factory.mktemp("logs")
    repo = make_git_repo(root / "repo", ticking_app(0.1, "hello-start Beta"))
    settings = local_api_settings(root / "data", TOKEN)
    before = time.time()
    with api_server(settings) as url, client(url) as api:
        assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        created = api.post(
            "/api/v1/projects/shop/services",
            json={"name": "web", "source": {"git": str(repo), "branch": "main"}},
        )
        assert created.status_code == 201, created.text
        deploy = api.post("/api/v1/projects/shop/services/web/deploys").json()
        deadline = time.monotonic() + 60
        while deploy["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            deploy = api.get(f"/api/v1/projects/shop/services/web/deploys/{deploy['id']}").json()
        assert deploy["status"] == "succeeded", deploy
        yield url, before


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def search(url: str, **params: Any) -> httpx.Response:
    with client(url) as api:
        return api.get(LOGS, params=params, headers={"Accept": "application/json"})


def wait_search(url: str, **params: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while not (items := search(url, **params).json()["items"]):
        assert time.monotonic() < deadline, f"nothing found for {params}"
        time.sleep(0.1)
    items_: list[dict[str, Any]] = items
    return items_


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def test_search_finds_a_line_by_text_any_case(deployed: tuple[str, float]) -> None:
    url, before = deployed
    [item] = wait_search(url, q="BETA")
    assert item["line"] == "hello-start Beta"
    assert (item["process"], item["release"]) == ("web.1", 1)
    at = datetime.fromisoformat(item["time"]).timestamp()
    assert before <= at <= time.time()


def test_search_keeps_to_the_time_window_and_the_release(deployed: tuple[str, float]) -> None:
    url, before = deployed
    wait_search(url, q="tick 3")
    assert search(url, q="tick", until=iso(before)).json()["items"] == []
    assert search(url, q="tick", since="1h", release="v1").json()["items"]
    assert search(url, q="tick", since=iso(time.time() + 60)).json()["items"] == []
    assert search(url, release="v9").status_code == 404
    bad = search(url, since="yesterday-ish")
    assert bad.status_code == 422 and "RFC 3339" in bad.json()["detail"]


def test_search_pages_follow_each_other_in_time_order(deployed: tuple[str, float]) -> None:
    url, _ = deployed
    wait_search(url, q="tick 5")
    first = search(url, q="tick", limit=3).json()
    second = search(url, q="tick", limit=3, cursor=first["next_cursor"]).json()
    numbers = [int(i["line"].split()[1]) for i in first["items"] + second["items"]]
    assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert search(url, cursor="p1.not-a-cursor").status_code == 422


def sse(url: str, headers: dict[str, str], count: int) -> list[tuple[str, dict[str, Any]]]:
    """The first `count` log events (id, data) of a live stream, then hang up."""
    found: list[tuple[str, dict[str, Any]]] = []
    with (
        client(url) as api,
        api.stream(
            "GET",
            LOGS,
            params={"follow": "true", "tail": 0},
            headers={"Accept": "text/event-stream", **headers},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                event[name] = value
                continue
            if event.get("event") == "log":
                found.append((event["id"], json.loads(event["data"])))
                if len(found) == count:
                    return found
            event = {}
    raise AssertionError("the stream ended")


def test_a_live_stream_resumes_after_the_last_event_id(deployed: tuple[str, float]) -> None:
    url, _ = deployed
    first = sse(url, {}, 3)
    ticks = [int(data["line"].split()[1]) for _, data in first]
    assert ticks == list(range(ticks[0], ticks[0] + 3))  # live, in order
    assert first[0][1]["process"] == "web.1"
    time.sleep(0.5)  # lines written while nobody listened are not lost
    resumed = sse(url, {"Last-Event-ID": first[1][0]}, 6)
    again = [int(data["line"].split()[1]) for _, data in resumed]
    assert again == list(range(ticks[1] + 1, ticks[1] + 7))  # no loss, no repeat


def test_the_cli_searches_and_follows(deployed: tuple[str, float]) -> None:
    url, _ = deployed
    env = {**os.environ, "SKYFORGE_URL": url, "SKYFORGE_TOKEN": TOKEN}
    found = subprocess.run(
        [str(SKYFORGE), "logs", "web", "-p", "shop", "--since", "1h", "--grep", "beta"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().endswith("web.1: hello-start Beta")
    plain = subprocess.run(
        [str(SKYFORGE), "logs", "web", "-p", "shop", "--tail", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert plain.returncode == 0 and len(plain.stdout.splitlines()) == 3
    follower = subprocess.Popen(
        [str(SKYFORGE), "logs", "web", "-p", "shop", "-f", "--tail", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        line = follower.stdout.readline()
        assert " web.1: tick " in line
    finally:
        follower.kill()
        follower.wait()
        if follower.stdout is not None:
            follower.stdout.close()


class CuttableProxy:
    """A TCP proxy in front of the API whose open connections can be cut (a network drop)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            cut, self.open = self.open, []
        for s in cut:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_following_survives_a_dropped_connection_without_loss_or_repeats(
    deployed: tuple[str, float],
) -> None:
    url, _ = deployed
    proxy = CuttableProxy(int(url.rsplit(":", 1)[1]))
    env = {**os.environ, "SKYFORGE_URL": f"http://127.0.0.1:{proxy.port}", "SKYFORGE_TOKEN": TOKEN}
    follower = subprocess.Popen(
        [str(SKYFORGE), "logs", "web", "-p", "shop", "-f", "--tail", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None and follower.stderr is not None
        numbers = [int(follower.stdout.readline().rsplit(" ", 1)[1]) for _ in range(5)]
        proxy.cut()
        assert "reconnecting" in follower.stderr.readline()
        numbers += [int(follower.stdout.readline().rsplit(" ", 1)[1]) for _ in range(10)]
        assert numbers == list(range(numbers[0], numbers[0] + 15))
    finally:
        follower.kill()
        follower.wait()
        for stream in (follower.stdout, follower.stderr):
            if stream is not None:
                stream.close()
        proxy.close()
