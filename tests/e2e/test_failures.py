"""What goes wrong: every failed or cancelled deploy leaves the current release serving."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait, wait_deploy
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"
SVC = "/api/v1/projects/shop/services/web"


def commit(repo: Path, files: dict[str, str]) -> None:
    """Replace the repository's content with `files` in a new commit."""
    for path in repo.iterdir():
        if path.name != ".git" and path.is_file():
            path.unlink()
    make_git_repo(repo, files)


def test_broken_releases_never_replace_the_serving_one(skyforge: SkyForge, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    api = skyforge.api()
    api.post("/api/v1/projects", json={"name": "shop"})
    api.post("/api/v1/projects/shop/services", json={"name": "web", "source": {"git": str(repo)}})
    page = skyforge.wait_status(HOST, 503)  # a service with no release yet
    assert "has no running release" in page
    page = skyforge.wait_status("nothing.shop.localhost", 404)
    assert "No app is routed" in page

    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"
    serving = json.loads(skyforge.get(HOST)[1])["pid"]

    broken = {
        "crash loop": {**PROBE_APP, "Procfile": "web: python -c 'raise SystemExit(3)'\n"},
        "release phase": {
            **PROBE_APP,
            "Procfile": "web: python app.py\nrelease: python -c 'raise SystemExit(1)'\n",
        },
        "build": {"README.md": "nothing to run\n"},
    }
    for what, files in broken.items():
        commit(repo, files)
        failed = deploy_and_wait(api, "shop", "web")
        assert failed["status"] == "failed", what
        assert failed["error"], what
        answer = json.loads(skyforge.get(HOST)[1])
        assert (answer["pid"], answer["release"]) == (serving, "v1"), what
    assert api.get(SVC).json()["release"] == 1


def test_a_running_deploy_can_be_cancelled(skyforge: SkyForge, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    api = skyforge.api()
    api.post("/api/v1/projects", json={"name": "shop"})
    api.post("/api/v1/projects/shop/services", json={"name": "web", "source": {"git": str(repo)}})
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"

    # A web process that never answers: the rollout waits for its health check.
    commit(repo, {**PROBE_APP, "Procfile": "web: python -c 'import time; time.sleep(600)'\n"})
    started = api.post(f"{SVC}/deploys").json()
    second = api.post(f"{SVC}/deploys").json()  # queues behind the first, never interleaves
    deadline = time.monotonic() + 60
    while api.get(f"{SVC}/deploys/{started['id']}").json()["status"] != "deploying":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert api.get(f"{SVC}/deploys/{second['id']}").json()["status"] == "queued"
    assert api.post(f"{SVC}/deploys/{second['id']}/cancel").json()["status"] == "cancelled"
    assert api.post(f"{SVC}/deploys/{started['id']}/cancel").status_code == 202
    done = wait_deploy(api, "shop", "web", started["id"], timeout=30)
    assert done["status"] == "cancelled"
    answer = json.loads(skyforge.get(HOST)[1])
    assert answer["release"] == "v1"
    assert api.get(f"{SVC}/deploys/{second['id']}").json()["status"] == "cancelled"
