"""`skyforge maintenance on|off` against a started SkyForge: the edge answers a 503 maintenance
page while the app keeps running, then serves the same process again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait, pid_alive
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"


def test_maintenance_shows_a_503_page_while_the_app_keeps_running(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    api = skyforge.api()
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    service = {"name": "web", "source": {"git": str(repo), "branch": "main"}}
    assert api.post("/api/v1/projects/shop/services", json=service).status_code == 201
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"
    serving = json.loads(skyforge.wait_for(HOST, lambda body: '"v1"' in body))
    web = {int(i["pid"]) for i in skyforge.instances() if i["type"] == "web"}

    on = skyforge.cli("maintenance", "on", "web", "-p", "shop")
    page = skyforge.wait_status(HOST, 503)
    info = json.loads(skyforge.cli("services", "info", "web", "-p", "shop", "--json").stdout)

    assert "web is in maintenance" in on.stdout
    assert "down for maintenance" in page
    assert "no running release" not in page
    assert info["maintenance"] is True
    assert web and all(pid_alive(pid) for pid in web)  # the app was not stopped

    off = skyforge.cli("maintenance", "off", "web", "-p", "shop")
    back = json.loads(skyforge.wait_for(HOST, lambda body: '"v1"' in body))

    assert "out of maintenance" in off.stdout
    assert back["pid"] == serving["pid"]
