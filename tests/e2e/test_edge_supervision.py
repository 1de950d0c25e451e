"""The edge router is supervised: a killed Caddy comes back with its routes, and says so."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import SkyForge, pid_alive
from tests.e2e.test_lifecycle import HOST, create_probe

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
