"""Custom domains through the CLI, against a real API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    return name


def test_a_domain_is_added_listed_checked_and_removed(cli: Cli, project: str) -> None:
    host = f"{project}.example.invalid"
    added = cli("domains", "add", host.upper(), "web", "-p", project, "--redirect-https")
    listed = json.loads(cli("domains", "list", "web", "-p", project, "--json").stdout)
    table = cli("domains", "list", "web", "-p", project)
    checked = cli("domains", "verify", host, "web", "-p", project)
    removed = cli("domains", "remove", host, "web", "-p", project)

    assert added.exit_code == 0, added.output
    assert f"_skyforge-challenge.{host}  TXT  skyforge-verification=" in added.stdout
    assert [(d["hostname"], d["status"], d["redirect_https"]) for d in listed] == [
        (host, "pending", True)
    ]
    assert host in table.stdout and "pending" in table.stdout
    assert checked.exit_code == 1 and host in checked.stdout
    assert removed.exit_code == 0, removed.output
    assert json.loads(cli("domains", "list", "web", "-p", project, "--json").stdout) == []


def test_a_refused_hostname_is_a_one_line_error(cli: Cli, project: str) -> None:
    result = cli("domains", "add", "127.0.0.1", "web", "-p", project)

    assert result.exit_code == 1
    assert "IP address" in result.stderr
