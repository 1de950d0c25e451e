"""Helper processes are supervised: a killed Caddy comes back with its routes (and /readyz and
the metrics say so), an app whose log relay was killed is started again with a new one."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import SkyForge, pid_alive
from tests.e2e.test_lifecycle import HOST, create_probe, wait_until

pytestmark = pytest.mark.e2e

REPAIRS = 'skyforge_edge_repairs_total{part="process"}'


def caddy_pid(sf: SkyForge) -> int:
    return int((sf.data_dir / "run" / "caddy.pid").read_text().split()[0])


def process_repairs(sf: SkyForge) -> float:
    metrics = httpx.get(f"{sf.url}/metrics").text
    return next(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(REPAIRS)
    )


def test_a_killed_router_is_restarted_with_its_routes(skyforge: SkyForge, tmp_path: Path) -> None:
    create_probe(skyforge, tmp_path)
    assert json.loads(skyforge.get(HOST)[1])["release"] == "v1"
    assert httpx.get(f"{skyforge.url}/readyz").json()["edge"] == "ok"
    assert process_repairs(skyforge) == 0
    killed = caddy_pid(skyforge)

    os.kill(killed, signal.SIGKILL)
    down = None
    deadline = time.monotonic() + 15
    while down is None and time.monotonic() < deadline:
        answer = httpx.get(f"{skyforge.url}/readyz")
        if answer.status_code == 503:
            down = answer.json()
    assert down is not None, "readyz never said the edge was down"
    assert down["edge"] == "down"
    assert down["status"] == "unavailable"

    deadline = time.monotonic() + 15
    while httpx.get(f"{skyforge.url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, skyforge.log()[-3000:]
        time.sleep(0.1)
    assert httpx.get(f"{skyforge.url}/readyz").json()["edge"] == "ok"
    skyforge.wait_for(HOST, lambda body: json.loads(body)["release"] == "v1")
    assert caddy_pid(skyforge) != killed and pid_alive(caddy_pid(skyforge))
    assert not pid_alive(killed)
    assert process_repairs(skyforge) == 1


def relay_of(log_path: str) -> int | None:
    """The pid of the log relay writing `log_path`."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"logrelay.py") for a in argv) and log_path.encode() in argv:
            return int(proc.name)
    return None


def test_an_app_whose_log_relay_was_killed_restarts_and_logs_again(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    create_probe(skyforge, tmp_path)
    (web,) = [i for i in skyforge.instances() if i["type"] == "web"]
    relay = relay_of(web["log_path"])
    assert relay is not None

    os.kill(relay, signal.SIGKILL)
    wait_until(
        lambda: {i["pid"] for i in skyforge.instances() if i["type"] == "web"} != {web["pid"]}
    )
    assert not pid_alive(int(web["pid"]))
    (again,) = [i for i in skyforge.instances() if i["type"] == "web"]
    wait_until(lambda: relay_of(again["log_path"]) not in (None, relay))
    skyforge.wait_for(HOST, lambda body: json.loads(body)["release"] == "v1")

    def logged() -> bool:
        skyforge.get(HOST, "/after-the-relay")
        out = skyforge.cli("logs", "web", "-p", "shop", "--tail", "200").stdout
        return "request /after-the-relay" in out

    wait_until(logged)
    out = skyforge.cli("logs", "web", "-p", "shop", "--tail", "200").stdout
    assert "its log relay exited; restarting it" in out
