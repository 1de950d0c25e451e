"""What a user copies from the CLI's output works when pasted: whole ids at 80 columns, `-q`
for scripts, hints that run as printed, and a scale that says when it applies."""

from __future__ import annotations

import json
import shlex
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import Cli
from tests.cli.test_deploys import create_service


def listed(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def assert_whole_at_80_columns(stdout: str, wanted: list[str]) -> None:
    lines = stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), stdout
    for value in wanted:
        assert any(value in line for line in lines), (value, stdout)


@pytest.fixture
def deployed(cli: Cli, site: Path) -> str:
    project = create_service(cli, site)
    for _ in range(2):
        result = cli("deploy", "web", "-p", project)
        assert result.exit_code == 0, result.output
    return project


@pytest.fixture
def failed(cli: Cli, deployed: str) -> str:
    """`deployed`, then a deploy from a branch that does not exist: it fails with an error."""
    assert cli("services", "update", "web", "-p", deployed, "--branch", "no-such").exit_code == 0
    assert cli("deploy", "web", "-p", deployed).exit_code != 0
    assert cli("services", "update", "web", "-p", deployed, "--branch", "main").exit_code == 0
    return deployed


def test_deploy_ids_stay_whole_at_80_columns(cli: Cli, failed: str) -> None:
    found = listed(cli, "deploys", "list", "web", "-p", failed)
    deploys = [d["id"] for d in found]

    result = cli("deploys", "list", "web", "-p", failed, COLUMNS="80")

    assert result.exit_code == 0, result.output
    assert len(deploys) == 3 and found[0]["error"]
    assert_whole_at_80_columns(result.stdout, deploys)


def test_token_ids_stay_whole_at_80_columns(cli: Cli) -> None:
    for days in ("7", "30"):
        name = f"a rather long token name for ci {uuid.uuid4().hex}"
        created = cli("tokens", "create", name, "--expires-in-days", days)
        assert created.exit_code == 0, created.output
    tokens = [t["id"] for t in listed(cli, "tokens", "list")]

    result = cli("tokens", "list", COLUMNS="80")

    assert result.exit_code == 0, result.output
    assert len(tokens) >= 2
    assert_whole_at_80_columns(result.stdout, tokens)


def test_quiet_lists_print_only_the_ids_one_a_line(cli: Cli, deployed: str) -> None:
    host = f"{deployed}.example.invalid"
    assert cli("domains", "add", host, "web", "-p", deployed).exit_code == 0
    assert cli("tokens", "create", "quiet").exit_code == 0
    cases = {
        ("deploys", "list", "web", "-p", deployed): "id",
        ("releases", "web", "-p", deployed): "version",
        ("tokens", "list"): "id",
        ("projects", "list"): "name",
        ("services", "list", "-p", deployed): "name",
        ("domains", "list", "web", "-p", deployed): "hostname",
    }

    for args, key in cases.items():
        expected = [str(item[key]) for item in listed(cli, *args)]
        for flag in ("-q", "--quiet"):
            result = cli(*args, flag)
            assert result.exit_code == 0, (args, result.output)
            assert result.stdout.splitlines() == expected, args
            assert expected, args
    assert cli("releases", "web", "-p", deployed, "-q").stdout.splitlines() == ["2", "1"]
    assert cli("domains", "list", "web", "-p", deployed, "-q").stdout == f"{host}\n"


def test_the_domains_verify_hint_runs_as_printed(cli: Cli, site: Path) -> None:
    project = create_service(cli, site)
    host = f"{project}.example.invalid"

    added = cli("domains", "add", host, "web", "-p", project, COLUMNS="80")
    hint = next(line for line in added.stdout.splitlines() if "domains verify" in line)
    printed = shlex.split(hint.split("`")[1])
    assert printed[0] == "skyforge"
    verified = cli(*printed[1:], COLUMNS="80")

    assert added.exit_code == 0, added.output
    # Not a usage error (2): the check ran and says the record is missing (1).
    assert verified.exit_code == 1, verified.output
    assert f"{host} is pending" in verified.stdout
    assert "Usage:" not in verified.output


def test_scale_before_the_first_deploy_says_it_is_saved_for_then(cli: Cli, site: Path) -> None:
    project = create_service(cli, site)

    saved = cli("scale", "web", "web=2", "-p", project)
    info = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)
    deployed = cli("deploy", "web", "-p", project)
    processes = listed(cli, "ps", "web", "-p", project)
    rescaled = cli("scale", "web", "web=1", "-p", project)

    assert saved.exit_code == 0, saved.output
    assert "Scaled" not in saved.output
    assert "Saved the scale of web: web=2." in saved.stdout
    assert f"takes effect at the first deploy: skyforge deploy web -p {project}" in saved.stderr
    assert info["release"] is None and info["scale"]["web"] == 2
    assert deployed.exit_code == 0, deployed.output
    assert [p["name"] for p in processes] == ["web.1", "web.2"]
    assert rescaled.exit_code == 0, rescaled.output
    assert "Scaled web: web=1." in rescaled.stdout
    assert "first deploy" not in rescaled.output
