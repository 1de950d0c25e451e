"""Deploys, config vars, scale, releases and rollback through the CLI, against a real API."""

from __future__ import annotations

import json
import time
import uuid
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import Cli

from skyforge.cli import follow


def create_service(cli: Cli, git: Path) -> str:
    """A new project with a service `web` built from `git`; returns the project's name."""
    project = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", project).exit_code == 0
    created = cli("services", "create", "web", "-p", project, "--git", str(git))
    assert created.exit_code == 0, created.output
    return project


@pytest.fixture
def deployed(cli: Cli, site: Path) -> str:
    """A project whose service `web` runs v1."""
    project = create_service(cli, site)
    result = cli("deploy", "web", "-p", project)
    assert result.exit_code == 0, result.output
    return project


def releases(cli: Cli, project: str) -> list[dict[str, Any]]:
    result = cli("releases", "web", "-p", project, "--json")
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def wait_for_release(cli: Cli, project: str, version: int) -> list[dict[str, Any]]:
    """Poll until release `version` is current (config changes roll out in the background)."""
    deadline = time.monotonic() + 10
    while True:
        found = releases(cli, project)
        if any(r["version"] == version and r["current"] for r in found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def test_deploy_follows_the_build_output_and_ends_with_the_url(cli: Cli, site: Path) -> None:
    project = create_service(cli, site)

    result = cli("deploy", "web", "-p", project)

    assert result.exit_code == 0, result.output
    assert "-----> Static app detected" in result.stdout
    assert result.stdout.rstrip().endswith(f"Deployed v1 to http://web.{project}.localhost:8080/")
    info = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)
    assert (info["release"], info["status"]) == (1, "running")
    deploys = json.loads(cli("deploys", "list", "web", "-p", project, "--json").stdout)
    assert [(d["kind"], d["status"]) for d in deploys] == [("build", "succeeded")]


def test_a_deploy_from_a_missing_repository_fails_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    project = create_service(cli, tmp_path / "no-such-repo")

    result = cli("deploy", "web", "-p", project)

    assert result.exit_code == 1
    assert "Error: deploy" in result.stderr
    assert "failed: git clone failed" in result.stderr
    assert "does not exist" in result.stderr
    assert "Deployed" not in result.stdout


def test_deploy_without_following_says_how_to_follow(cli: Cli, site: Path) -> None:
    project = create_service(cli, site)

    queued = cli("deploy", "web", "-p", project, "--no-follow")
    deploy_id = json.loads(cli("deploys", "list", "web", "-p", project, "--json").stdout)[0]["id"]
    followed = cli("deploys", "logs", deploy_id, "web", "-p", project)

    assert queued.exit_code == 0
    assert f"skyforge deploys logs {deploy_id} web -p {project}" in queued.stderr
    assert followed.exit_code == 0, followed.output
    assert "Deployed v1" in followed.stdout


def test_ctrl_c_stops_following_and_says_how_to_cancel(
    cli: Cli, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = create_service(cli, site)

    def interrupted(_chunks: Iterator[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(follow, "echo_stream", interrupted)
    result = cli("deploy", "web", "-p", project)

    deploy_id = json.loads(cli("deploys", "list", "web", "-p", project, "--json").stdout)[0]["id"]
    assert result.exit_code == 130
    assert f"skyforge deploys cancel {deploy_id} web -p {project}" in result.stderr


def test_cancelling_a_finished_deploy_says_why_not(cli: Cli, deployed: str) -> None:
    deploy_id = json.loads(cli("deploys", "list", "web", "-p", deployed, "--json").stdout)[0]["id"]

    result = cli("deploys", "cancel", deploy_id, "web", "-p", deployed)

    assert result.exit_code == 1
    assert "already succeeded" in result.stderr


def test_env_set_get_and_unset_each_make_a_release(cli: Cli, deployed: str) -> None:
    set_result = cli("env", "set", "web", "-p", deployed, "GREETING=hi", "DSN=a=b")
    assert set_result.exit_code == 0, set_result.output
    assert "Set GREETING, DSN on web." in set_result.stdout
    assert "new release" in set_result.stderr
    assert wait_for_release(cli, deployed, 2)[0]["config_names"] == ["DSN", "GREETING"]

    listed = cli("env", "get", "web", "-p", deployed)
    one = cli("env", "get", "web", "-p", deployed, "DSN")
    assert listed.stdout.splitlines() == ["DSN=a=b", "GREETING=hi"]
    assert one.stdout == "a=b\n"

    assert cli("env", "unset", "web", "-p", deployed, "DSN").exit_code == 0
    assert wait_for_release(cli, deployed, 3)[0]["config_names"] == ["GREETING"]
    missing = cli("env", "get", "web", "-p", deployed, "DSN")
    assert missing.exit_code == 1
    assert "DSN is not set" in missing.stderr
    table = cli("releases", "web", "-p", deployed).stdout
    assert "Config vars changed" in table
    assert "Deploy of main" in table


def test_env_set_needs_name_equals_value(cli: Cli, deployed: str) -> None:
    result = cli("env", "set", "web", "-p", deployed, "GREETING")

    assert result.exit_code == 2
    assert "'GREETING' is not NAME=value" in result.stderr


def test_scale_changes_the_process_count(cli: Cli, deployed: str) -> None:
    result = cli("scale", "web", "web=2", "-p", deployed)

    assert result.exit_code == 0, result.output
    assert "Scaled web: web=2." in result.stdout
    info = json.loads(cli("services", "info", "web", "-p", deployed, "--json").stdout)
    assert info["scale"] == {"web": 2}


@pytest.mark.parametrize("bad", ["web", "web=", "=2", "web=two", "web=-1"])
def test_scale_refuses_anything_but_type_equals_count(cli: Cli, bad: str) -> None:
    result = cli("scale", "web", bad, "-p", "any")

    assert result.exit_code == 2
    assert "is not TYPE=COUNT" in result.stderr


def test_scale_of_an_unknown_process_type_shows_the_api_error(cli: Cli, deployed: str) -> None:
    result = cli("scale", "web", "worker=1", "-p", deployed)

    assert result.exit_code == 1
    assert "Error: no such process type: worker" in result.stderr


def test_rollback_goes_back_to_an_earlier_release(cli: Cli, deployed: str) -> None:
    assert cli("env", "set", "web", "-p", deployed, "GREETING=hi").exit_code == 0
    wait_for_release(cli, deployed, 2)

    result = cli("rollback", "web", "-p", deployed, "--release", "1")

    assert result.exit_code == 0, result.output
    assert "Deployed v3 to" in result.stdout
    latest = releases(cli, deployed)[0]
    assert (latest["version"], latest["description"], latest["current"]) == (
        3,
        "Rollback to v1",
        True,
    )


def test_rollback_to_a_release_that_does_not_exist_fails(cli: Cli, deployed: str) -> None:
    result = cli("rollback", "web", "-p", deployed, "--release", "9")

    assert result.exit_code == 1
    assert "Error: no release v9" in result.stderr


def test_logs_prints_the_app_output(cli: Cli, deployed: str) -> None:
    result = cli("logs", "web", "-p", deployed, "--tail", "10")

    assert result.exit_code == 0, result.output  # the null runtime has no output to show


def test_open_prints_the_url_and_opens_a_browser(
    cli: Cli, deployed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def fake_open(url: str) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)

    result = cli("open", "web", "-p", deployed)

    url = f"http://web.{deployed}.localhost:8080/"
    assert result.exit_code == 0
    assert result.stdout.strip() == url
    assert opened == [url]


def test_the_hint_after_env_set_follows_the_new_release_when_copied(
    cli: Cli, deployed: str
) -> None:
    result = cli("env", "set", "web", "-p", deployed, "HINTED=yes")
    hint = result.stderr.splitlines()[-1].split()

    assert hint[:3] == ["skyforge", "deploys", "logs"]
    followed = cli(*hint[1:])
    assert followed.exit_code == 0, followed.output
    assert "Released v2: Config vars changed" in followed.output
    deploys = json.loads(cli("deploys", "list", "web", "-p", deployed, "--json").stdout)
    assert deploys[0]["id"] == hint[3]
    assert deploys[0]["kind"] == "config"
