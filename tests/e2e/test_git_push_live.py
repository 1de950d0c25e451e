"""`git push skyforge main` and GitHub's hooks against a real `skyforge up`: the app, and each
pull request's preview, answer at their URLs through the edge router."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.e2e.harness import PROBE_APP, TOKEN, SkyForge, deploy_and_wait, wait_deploy
from tests.integration.test_inbound_hooks import branch_with_commit, github, github_pull
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = repo.parent / "git-home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_git_push_deploys_and_a_push_that_fails_to_deploy_is_rejected(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    api = skyforge.api()
    assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    # The configured source is never built here: every deploy comes from a push.
    service = {"name": "web", "source": {"git": str(tmp_path / "elsewhere"), "branch": "main"}}
    assert api.post("/api/v1/projects/shop/services", json=service).status_code == 201
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    git(
        repo,
        "remote",
        "add",
        "skyforge",
        f"http://me:{TOKEN}@127.0.0.1:{skyforge.api_port}/git/shop/web.git",
    )

    pushed = git(repo, "push", "skyforge", "main")

    assert pushed.returncode == 0, pushed.stderr
    assert (
        "remote: -----> Python app detected" in pushed.stderr
        or "remote: -----> Procfile app detected" in pushed.stderr
    ), pushed.stderr
    assert "remote: -----> Rolling out v1" in pushed.stderr
    serving = json.loads(skyforge.wait_for(HOST, lambda body: '"v1"' in body))
    assert serving["release"] == "v1"

    (repo / "Procfile").write_text("web: python -c 'raise SystemExit(3)'\n")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "crash")
    rejected = git(repo, "push", "skyforge", "main")

    assert rejected.returncode != 0
    assert "! [remote rejected] main -> main (deploy failed)" in rejected.stderr, rejected.stderr
    assert "remote:  !     Deploy failed" in rejected.stderr
    answer = json.loads(skyforge.get(HOST)[1])
    assert (answer["pid"], answer["release"]) == (serving["pid"], "v1")
    assert api.get("/api/v1/projects/shop/services/web").json()["release"] == 1


def test_a_pull_request_preview_answers_at_its_own_url_until_the_request_is_closed(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    api = skyforge.api()
    repo = make_git_repo(tmp_path / "site", {"index.html": "<h1>main</h1>\n"})
    assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    service = {"name": "web", "source": {"git": str(repo), "branch": "main"}}
    assert api.post("/api/v1/projects/shop/services", json=service).status_code == 201
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"
    made = api.post("/api/v1/projects/shop/services/web/hooks", json={"provider": "github"})
    assert made.status_code == 201, made.text
    hook = made.json()
    sha = branch_with_commit(repo, "feature/login", {"index.html": "<h1>preview</h1>\n"})

    opened = api.post(
        f"/hooks/{hook['id']}",
        **github(hook, "pull_request", github_pull("opened", 7, "feature/login", sha)),
    )

    assert opened.status_code == 202, opened.text
    deploy = wait_deploy(api, "shop", "web-pr-7", opened.json()["deploy_id"])
    assert deploy["status"] == "succeeded", deploy
    assert "preview" in skyforge.wait_for("web-pr-7.shop.localhost", lambda b: "preview" in b)
    assert "main" in skyforge.get("web.shop.localhost")[1]  # the service itself is untouched

    closed = api.post(
        f"/hooks/{hook['id']}",
        **github(hook, "pull_request", github_pull("closed", 7, "feature/login", sha)),
    )

    assert closed.status_code == 200, closed.text
    skyforge.wait_status("web-pr-7.shop.localhost", 404)
    assert "main" in skyforge.get("web.shop.localhost")[1]
