"""`skyforge services update` and `skyforge --version`, against a real API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli
from tests.support import make_git_repo

from skyforge import __version__


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    return name


def test_version_prints_the_package_version(cli: Cli) -> None:
    result = cli("--version")

    assert result.exit_code == 0
    assert result.stdout.strip() == f"skyforge {__version__}"


def test_the_branch_and_health_check_change_and_the_repository_stays(
    cli: Cli, project: str, site: Path
) -> None:
    result = cli(
        "services", "update", "web", "-p", project, "--branch", "release", "--health-check", "/up"
    )
    shown = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)

    assert result.exit_code == 0, result.output
    assert f"Updated service web in {project}." in result.stdout
    assert "(branch release)" in result.output
    assert shown["source"] == {"git": str(site), "branch": "release"}
    assert shown["health_check_path"] == "/up"


def test_a_new_repository_keeps_the_branch_and_an_empty_health_check_clears_it(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    other = make_git_repo(tmp_path / "other", {"index.html": "other\n"}, branch="live")
    assert cli("services", "update", "web", "-p", project, "--branch", "live").exit_code == 0
    assert cli("services", "update", "web", "-p", project, "--health-check", "/h").exit_code == 0

    result = cli(
        "services", "update", "web", "-p", project, "--git", str(other), "--health-check", ""
    )
    shown = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)

    assert result.exit_code == 0, result.output
    assert shown["source"] == {"git": str(other), "branch": "live"}
    assert shown["health_check_path"] is None


def test_the_next_deploy_builds_the_new_branch(cli: Cli, project: str, tmp_path: Path) -> None:
    live_only = make_git_repo(tmp_path / "live", {"index.html": "live\n"}, branch="live")
    assert cli("services", "create", "w2", "-p", project, "--git", str(live_only)).exit_code == 0
    missing = cli("deploy", "w2", "-p", project)

    assert cli("services", "update", "w2", "-p", project, "--branch", "live").exit_code == 0
    deployed = cli("deploy", "w2", "-p", project)

    assert missing.exit_code != 0
    assert deployed.exit_code == 0, deployed.output
    assert json.loads(cli("services", "info", "w2", "-p", project, "--json").stdout)["release"] == 1


def test_nothing_to_change_is_a_usage_error(cli: Cli, project: str) -> None:
    result = cli("services", "update", "web", "-p", project)

    assert result.exit_code == 2
    assert "--branch" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--branch", "-bad"), ("--health-check", "no-slash"), ("--git", "http://127.0.0.1:1/r")],
)
def test_a_refused_value_changes_nothing(cli: Cli, project: str, option: str, value: str) -> None:
    before = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)

    result = cli("services", "update", "web", "-p", project, option, value)
    after = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert after == before


def test_an_unknown_service_is_an_error(cli: Cli, project: str) -> None:
    result = cli("services", "update", "nope", "-p", project, "--branch", "x")

    assert result.exit_code == 1
    assert "nope" in result.stderr
