"""`skyforge git:remote` and its git credential helper, against a real API and real git."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import TOKEN, Cli
from tests.support import make_git_repo

from skyforge.cli.config import Config
from skyforge.cli.credential import answer


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    return name


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_git_repo(tmp_path / "app", {"README": "app\n"})
    monkeypatch.chdir(repo)
    return repo


def git(repo: Path, *args: str, input: str | None = None, **env: str) -> str:
    """git in `repo` with no user config, no prompt, and `env` added."""
    base = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(repo.parent / "home"),
        "XDG_CONFIG_HOME": str(repo.parent / "no-config"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=input,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_remote_points_at_the_service_and_git_gets_the_token_from_the_helper(
    cli: Cli, server: str, project: str, checkout: Path
) -> None:
    result = cli("git:remote", "web", "-p", project)
    url = f"{server}/git/{project}/web.git"
    asked = f"protocol=http\nhost={server.removeprefix('http://')}\npath=git/{project}/web.git\n\n"

    filled = git(
        checkout, "credential", "fill", input=asked, SKYFORGE_URL=server, SKYFORGE_TOKEN=TOKEN
    )

    assert result.exit_code == 0, result.output
    assert git(checkout, "remote", "get-url", "skyforge").strip() == url
    assert f"password={TOKEN}\n" in filled
    assert "username=skyforge\n" in filled
    assert TOKEN not in (checkout / ".git" / "config").read_text()
    # The service and project now come from the remote.
    assert project in cli("services", "info").stdout


def test_the_helper_hands_the_token_to_no_other_host(server: str) -> None:
    config = Config(server, TOKEN)
    host = server.removeprefix("http://")

    assert answer({"protocol": "http", "host": host}, config) == {
        "username": "skyforge",
        "password": TOKEN,
    }
    assert answer({"protocol": "http", "host": "evil.example:80"}, config) is None
    assert answer({"protocol": "https", "host": host}, config) is None
    assert answer({"protocol": "http", "host": host}, Config(server)) is None  # no login


def test_running_it_again_repoints_the_remote_with_one_helper(
    cli: Cli, server: str, project: str, site: Path, checkout: Path
) -> None:
    git(checkout, "remote", "add", "skyforge", f"http://me:{TOKEN}@old.example/git/x/y.git")
    assert cli("services", "create", "api", "-p", project, "--git", str(site)).exit_code == 0
    assert cli("git:remote", "web", "-p", project).exit_code == 0

    again = cli("git:remote", "api", "-p", project)
    url = f"{server}/git/{project}/api.git"
    helpers = git(checkout, "config", "--get-all", f"credential.{url}.helper").splitlines()

    assert again.exit_code == 0, again.output
    assert git(checkout, "remote", "get-url", "skyforge").strip() == url
    assert helpers[0] == ""
    assert len(helpers) == 2
    assert helpers[1].endswith(" -m skyforge.cli.credential")
    assert TOKEN not in (checkout / ".git" / "config").read_text()


def test_outside_a_checkout_or_for_an_unknown_service_nothing_is_written(
    cli: Cli, project: str, checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = cli("git:remote", "nope", "-p", project)
    monkeypatch.chdir(tmp_path)
    outside = cli("git:remote", "web", "-p", project)

    assert unknown.exit_code == 1
    assert "nope" in unknown.stderr
    assert "skyforge" not in (checkout / ".git" / "config").read_text()
    assert outside.exit_code == 2
    assert "not a git repository" in outside.stderr
