"""`skyforge git:remote` then a real `git push skyforge main` against a started SkyForge: the
push deploys with the token of the user's login, and `.git/config` never holds it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.e2e.harness import PROBE_APP, SKYFORGE, TOKEN, SkyForge
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e


def test_a_push_through_the_remote_git_remote_added_deploys_with_no_token_in_git_config(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    api = skyforge.api()
    assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    service = {"name": "web", "source": {"git": str(tmp_path / "elsewhere"), "branch": "main"}}
    assert api.post("/api/v1/projects/shop/services", json=service).status_code == 201
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    # A user's shell: logged in once, no SKYFORGE_TOKEN in the environment.
    user = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "GIT_TERMINAL_PROMPT": "0",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), cwd=repo, env=user, capture_output=True, text=True, timeout=300
        )

    logged_in = run(str(SKYFORGE), "login", "--url", skyforge.url, "--token", TOKEN)
    assert logged_in.returncode == 0, logged_in.stderr
    added = run(str(SKYFORGE), "git:remote", "web", "-p", "shop")
    assert added.returncode == 0, added.stderr

    pushed = run("git", "push", "skyforge", "main")

    assert pushed.returncode == 0, pushed.stderr
    assert "remote: -----> Rolling out v1" in pushed.stderr
    assert json.loads(skyforge.wait_for("web.shop.localhost", lambda b: '"v1"' in b))
    assert TOKEN not in (repo / ".git" / "config").read_text()
    assert run("git", "remote", "get-url", "skyforge").stdout.strip() == (
        f"{skyforge.url}/git/shop/web.git"
    )


def test_a_push_with_no_login_is_refused_and_asks_for_one(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    api = skyforge.api()
    assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    service = {"name": "web", "source": {"git": str(tmp_path / "elsewhere"), "branch": "main"}}
    assert api.post("/api/v1/projects/shop/services", json=service).status_code == 201
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    cwd, env = str(repo), {**skyforge.env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    added = subprocess.run(
        [str(SKYFORGE), "git:remote", "web", "-p", "shop"], cwd=cwd, env=env, capture_output=True
    )
    assert added.returncode == 0, added.stderr
    # Another user of the checkout, with no login and no SKYFORGE_TOKEN.
    stranger = {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    stranger |= {"HOME": str(tmp_path / "h2"), "XDG_CONFIG_HOME": str(tmp_path / "x2")}
    stranger |= {"GIT_TERMINAL_PROMPT": "0", "SKYFORGE_URL": skyforge.url}

    pushed = subprocess.run(
        ["git", "push", "skyforge", "main"], cwd=cwd, env=stranger, capture_output=True, text=True
    )

    assert pushed.returncode != 0
    assert api.get("/api/v1/projects/shop/services/web").json()["release"] is None
