"""A service's boot timeout, set through the API, bounds how long a deploy waits for its web
processes, and the deploy log says what it waits for while it waits (local runtime)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support import api_server, local_api_settings, make_git_repo

TOKEN = "boot-admin-token-0123456789abcdef"
SVC = "/api/v1/projects/shop/services"
SILENT = {  # starts, prints, never listens on its port
    "Procfile": "web: python3 app.py $PORT\n",
    "app.py": "import time\nprint('booting forever', flush=True)\ntime.sleep(3600)\n",
}


def finished(api: httpx.Client, deploy_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        deploy: dict[str, Any] = api.get(f"{SVC}/web/deploys/{deploy_id}").json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        assert time.monotonic() < deadline, deploy
        time.sleep(0.2)


def test_a_boot_timeout_set_through_the_api_bounds_the_wait_shown_in_the_deploy_log(
    tmp_path: Path,
) -> None:
    repo = make_git_repo(tmp_path / "repo", SILENT)
    settings = local_api_settings(tmp_path / "data", TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with api_server(settings) as url, httpx.Client(base_url=url, headers=headers) as api:
        assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        created = api.post(SVC, json={"name": "web", "source": {"git": str(repo)}})
        assert created.status_code == 201, created.text
        assert created.json()["boot_timeout"] is None  # the default: SKYFORGE_BOOT_TIMEOUT
        patched = api.patch(f"{SVC}/web", json={"boot_timeout": 7})
        assert patched.status_code == 200, patched.text
        assert patched.json()["boot_timeout"] == 7

        started = api.post(f"{SVC}/web/deploys")
        assert started.status_code == 202, started.text
        deploy = finished(api, started.json()["id"])
        log = api.get(f"{SVC}/web/deploys/{deploy['id']}/logs").text

    assert deploy["status"] == "failed"
    assert re.search(
        r"web\.1 did not answer GET / on port \d+ within its boot timeout of 7 s", deploy["error"]
    ), deploy["error"]
    assert "booting forever" in deploy["error"]  # the app's last lines say why
    assert "-----> Waiting for web.1 to answer GET / with 2xx/3xx (boot timeout 7 s)" in log
    assert re.search(r"-----> Waiting for web\.1 to listen on port \d+ \(\d s of 7 s\)", log), log
    assert "nothing else changed" in log
