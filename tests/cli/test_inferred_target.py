"""The project and service come from the current directory's `skyforge` git remote."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli
from tests.support import make_git_repo


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    return name


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git checkout, the current directory of the test."""
    repo = make_git_repo(tmp_path / "app", {"README": "app\n"})
    monkeypatch.chdir(repo)
    return repo


def add_remote(repo: Path, url: str) -> None:
    subprocess.run(["git", "-C", str(repo), "remote", "add", "skyforge", url], check=True)


def test_a_command_in_a_checkout_with_the_remote_needs_no_names(
    cli: Cli, server: str, project: str, checkout: Path
) -> None:
    add_remote(checkout, f"{server}/git/{project}/web.git")

    info = cli("services", "info", "--json")
    deployed = cli("deploy")
    releases = json.loads(cli("releases", "--json").stdout)

    assert info.exit_code == 0, info.output
    assert (json.loads(info.stdout)["project"], json.loads(info.stdout)["name"]) == (project, "web")
    assert deployed.exit_code == 0, deployed.output
    assert f"Deploying web in {project}" in deployed.stdout
    assert [r["version"] for r in releases] == [1]


def test_names_given_win_over_the_remote(
    cli: Cli, server: str, project: str, site: Path, checkout: Path
) -> None:
    add_remote(checkout, f"http://skyforge@example.com:8000/git/{project}-other/api.git")
    assert cli("services", "create", "api", "-p", project, "--git", str(site)).exit_code == 0

    by_option = cli("services", "info", "web", "-p", project, "--json")
    by_env = cli("services", "info", "--json", SKYFORGE_PROJECT=project)

    assert json.loads(by_option.stdout)["name"] == "web"
    assert (json.loads(by_env.stdout)["project"], json.loads(by_env.stdout)["name"]) == (
        project,
        "api",
    )


def test_without_a_remote_the_error_says_what_to_give(cli: Cli, checkout: Path) -> None:
    no_project = cli("services", "list")
    no_service = cli("services", "info", "-p", "shop")

    assert no_project.exit_code == 2
    assert "which project? Give -p/--project" in no_project.stderr
    assert "no `skyforge` git remote" in no_project.stderr
    assert no_service.exit_code == 2
    assert "which service? Give its name" in no_service.stderr


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:shop/web.git",
        "https://github.com/shop/web.git",
        "http://h/git/shop/web.git/../../x",
        "http://h/git/Shop_1/$(touch pwned).git",
    ],
)
def test_a_remote_that_is_not_skyforge_is_a_usage_error(cli: Cli, checkout: Path, url: str) -> None:
    add_remote(checkout, url)

    result = cli("deploys", "list", "-p", "shop")

    assert result.exit_code == 2
    assert "is not a SkyForge git URL" in result.stderr
    assert not (checkout / "pwned").exists()


def test_outside_any_checkout_the_error_is_the_same(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = cli("logs", "-p", "shop")

    assert result.exit_code == 2
    assert "which service?" in result.stderr
