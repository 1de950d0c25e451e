"""Secrets through the CLI, against a real API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli
from tests.cli.test_deploys import wait_for_release


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    return name


def test_a_secret_can_be_set_read_listed_and_unset(cli: Cli, project: str) -> None:
    created = cli("secrets", "set", "API_KEY=first=with=equals", "-p", project)
    updated = cli("secrets", "set", "API_KEY=second", "-p", project)
    value = cli("secrets", "get", "API_KEY", "-p", project)
    older = cli("secrets", "get", "API_KEY", "-p", project, "--version", "1")
    listed = cli("secrets", "list", "-p", project)
    as_json = json.loads(cli("secrets", "list", "-p", project, "--json").stdout)
    unset = cli("secrets", "unset", "API_KEY", "-p", project)

    assert created.exit_code == 0, created.output
    assert f"Created API_KEY v1 for every service of {project}." in created.stdout
    assert "Set API_KEY v2" in updated.stdout
    assert value.stdout == "second\n"
    assert older.stdout == "first=with=equals\n"
    assert "API_KEY" in listed.stdout and "v2" in listed.stdout and "(all)" in listed.stdout
    assert "second" not in listed.stdout
    assert [(s["name"], s["version"], s["versions"]) for s in as_json] == [("API_KEY", 2, 2)]
    assert unset.exit_code == 0, unset.output
    assert json.loads(cli("secrets", "list", "-p", project, "--json").stdout) == []


def test_a_value_from_stdin_never_appears_on_the_command_line(
    cli: Cli, project: str, site: Path
) -> None:
    result = cli(
        "secrets", "set", "PEM", "--stdin", "-s", "web", "-p", project, input="line 1\nline 2\n"
    )

    assert result.exit_code == 0, result.output
    assert "for service web" in result.stdout
    assert cli("secrets", "get", "PEM", "-p", project).stdout == "line 1\nline 2\n"
    assert cli("services", "create", "api", "-p", project, "--git", str(site)).exit_code == 0
    assert cli("secrets", "set", "API_PEM=x", "-s", "api", "-p", project).exit_code == 0
    only_web = json.loads(cli("secrets", "list", "-p", project, "-s", "web", "--json").stdout)
    assert [(s["name"], s["service"]) for s in only_web] == [("PEM", "web")]


def test_a_value_given_twice_or_not_at_all_is_a_usage_error(cli: Cli, project: str) -> None:
    both = cli("secrets", "set", "A=1", "--stdin", "-p", project, input="2")
    none = cli("secrets", "set", "A", "-p", project, input="")

    assert both.exit_code == none.exit_code == 2
    assert "not both" in both.stderr
    assert "--stdin" in none.stderr


def test_api_refusals_are_one_line_errors(cli: Cli, project: str) -> None:
    bad_name = cli("secrets", "set", "BAD NAME=x", "-p", project)
    missing = cli("secrets", "get", "NOPE", "-p", project)
    unknown_service = cli("secrets", "set", "A=1", "-s", "nope", "-p", project)

    for result in (bad_name, missing, unknown_service):
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ")
        assert "Traceback" not in result.output


def test_the_master_key_can_be_rotated_from_the_cli(cli: Cli, project: str) -> None:
    assert cli("secrets", "set", "API_KEY=kept-value", "-p", project).exit_code == 0

    rotated = cli("secrets", "rotate-key")

    assert rotated.exit_code == 0, rotated.output
    assert "Re-wrapped" in rotated.stdout
    assert cli("secrets", "get", "API_KEY", "-p", project).stdout == "kept-value\n"


def test_after_a_rollback_the_list_says_the_running_release_lacks_a_newer_secret(
    cli: Cli, project: str
) -> None:
    assert cli("deploy", "web", "-p", project).exit_code == 0  # v1, no secret
    assert cli("secrets", "set", "API_KEY=k", "-p", project).exit_code == 0
    wait_for_release(cli, project, 2)  # v2 runs API_KEY v1
    back = cli("rollback", "web", "-p", project, "--release", "1")

    listed = cli("secrets", "list", "-p", project, "-s", "web")
    as_json = json.loads(cli("secrets", "list", "-p", project, "-s", "web", "--json").stdout)

    assert back.exit_code == 0, back.output
    assert "RUNNING" in listed.stdout
    assert "API_KEY" in listed.stdout and "not in v3" in listed.stdout
    assert "web's running release (v3) does not carry" in listed.stderr
    assert [(s["in_current_release"], s["current_release_version"]) for s in as_json] == [
        (False, None)
    ]
