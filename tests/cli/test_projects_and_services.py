"""Projects and services through the CLI, against a real API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli

from skyforge.cli.client import segment


@pytest.fixture
def project(cli: Cli) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    return name


def test_a_project_can_be_created_listed_and_deleted(cli: Cli) -> None:
    name = f"shop-{uuid.uuid4().hex[:6]}"

    created = cli("projects", "create", name)
    listed = cli("projects", "list")
    as_json = json.loads(cli("projects", "list", "--json").stdout)
    deleted = cli("projects", "delete", name, "--yes")

    assert created.exit_code == 0
    assert f"Created project {name}." in created.stdout
    assert name in listed.stdout
    assert "production" in listed.stdout
    assert name in [p["name"] for p in as_json]
    assert deleted.exit_code == 0
    assert name not in cli("projects", "list").stdout


def test_deleting_a_project_asks_for_its_name(cli: Cli, project: str) -> None:
    refused = cli("projects", "delete", project, input="something-else\n")
    assert refused.exit_code == 1
    assert "did not match" in refused.stderr
    assert project in cli("projects", "list").stdout

    confirmed = cli("projects", "delete", project, input=f"{project}\n")
    assert confirmed.exit_code == 0
    assert project not in cli("projects", "list").stdout


def test_an_api_error_is_one_red_line_without_a_traceback(cli: Cli, project: str) -> None:
    result = cli("projects", "create", project)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert project in result.stderr
    assert "Traceback" not in result.output


def test_a_service_can_be_created_listed_shown_and_deleted(
    cli: Cli, project: str, site: Path
) -> None:
    created = cli(
        "services",
        "create",
        "web",
        "-p",
        project,
        "--git",
        str(site),
        "--health-check",
        "/up",
        "--boot-timeout",
        "90",
    )
    listed = cli("services", "list", "--project", project)
    info = cli("services", "info", "web", "-p", project)
    as_json = json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)

    assert created.exit_code == 0, created.output
    assert "web" in listed.stdout
    assert "not deployed" in listed.stdout
    assert f"http://web.{project}.localhost:8080/" in info.stdout
    assert str(site) in info.stdout
    assert as_json["source"] == {"git": str(site), "branch": "main"}
    assert as_json["health_check_path"] == "/up" and as_json["boot_timeout"] == 90
    assert "GET /up gives 2xx/3xx within 90 s" in info.stdout
    assert as_json["release"] is None
    assert cli("services", "delete", "web", "-p", project, "--yes").exit_code == 0
    assert json.loads(cli("services", "list", "-p", project, "--json").stdout) == []


def test_a_boot_timeout_out_of_bounds_is_refused(cli: Cli, project: str, site: Path) -> None:
    refused = cli(
        "services", "create", "web", "-p", project, "--git", str(site), "--boot-timeout", "0"
    )
    assert refused.exit_code != 0
    assert "--boot-timeout" in refused.output
    assert json.loads(cli("services", "list", "-p", project, "--json").stdout) == []


def test_credentials_in_a_source_url_are_printed_masked(cli: Cli, project: str) -> None:
    url = "https://deploy:tok-cli-s3cr3t@93.184.215.14/shop.git"  # a public address

    created = cli("services", "create", "web", "-p", project, "--git", url)
    info = cli("services", "info", "web", "-p", project)
    as_json = cli("services", "info", "web", "-p", project, "--json")

    assert created.exit_code == 0, created.output
    for result in (created, info, as_json):
        printed = result.stdout + result.stderr
        assert "https://***@93.184.215.14/shop.git" in printed
        assert "tok-cli-s3cr3t" not in printed


def test_a_refused_source_is_an_error_naming_the_reason(cli: Cli, project: str) -> None:
    refused = cli("services", "create", "api", "-p", project, "--git", "http://127.0.0.1:1/r")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: ")
    assert "git source: the URL's host is a loopback address" in refused.stderr


def test_a_local_relative_path_is_sent_as_an_absolute_one(
    cli: Cli, project: str, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(site.parent)

    result = cli("services", "create", "web", "-p", project, "--git", site.name, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"]["git"] == str(site)


def test_the_project_can_come_from_skyforge_project(cli: Cli, project: str, site: Path) -> None:
    assert (
        cli("services", "create", "api", "--git", str(site), SKYFORGE_PROJECT=project).exit_code
        == 0
    )

    result = cli("services", "list", "--json", SKYFORGE_PROJECT=project)

    assert [s["name"] for s in json.loads(result.stdout)] == ["api"]


def test_a_missing_project_is_a_usage_error(cli: Cli) -> None:
    result = cli("services", "list")

    assert result.exit_code == 2
    assert "--project" in result.output


def test_a_name_cannot_change_the_request_path(cli: Cli, project: str) -> None:
    assert segment("..") == "%2E%2E"
    assert segment("../x") == "..%2Fx"
    assert segment("a/b?c#d") == "a%2Fb%3Fc%23d"

    climbing = cli("services", "info", "..", "-p", project)
    sneaky = cli("projects", "delete", f"{project}/..", "--yes")

    assert climbing.exit_code == 1
    assert "Error: " in climbing.stderr
    assert sneaky.exit_code == 1
    assert project in cli("projects", "list").stdout
