"""`skyforge logs` searches (null runtime: nothing to find) and `skyforge drains` manages drains."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    created = cli("services", "create", "web", "-p", name, "--git", str(site))
    assert created.exit_code == 0, created.output
    return name


def test_logs_search_with_filters_prints_what_matches(cli: Cli, project: str) -> None:
    result = cli("logs", "web", "-p", project, "--since", "1h", "--grep", "error")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the null runtime has no output


def test_logs_refuses_a_time_it_cannot_read(cli: Cli, project: str) -> None:
    result = cli("logs", "web", "-p", project, "--since", "last tuesday")
    assert result.exit_code == 1
    assert "since: expected RFC 3339" in result.stderr


def test_drains_are_added_listed_and_removed(cli: Cli, project: str) -> None:
    url = "syslog+tls://93.184.215.14:6514"
    added = cli("drains", "add", "web", url, "-p", project, "--json")
    assert added.exit_code == 0, added.output
    listed = cli("drains", "list", "web", "-p", project)
    assert url in listed.stdout and "ok" in listed.stdout
    drain_id = next(line.split()[0] for line in listed.stdout.splitlines() if url in line)
    removed = cli("drains", "remove", drain_id, "web", "-p", project)
    assert removed.exit_code == 0, removed.output
    assert "No log drains yet." in cli("drains", "list", "web", "-p", project).stderr


def test_a_drain_to_this_host_is_refused(cli: Cli, project: str) -> None:
    result = cli("drains", "add", "web", "syslog+tcp://127.0.0.1:514", "-p", project)
    assert result.exit_code == 1
    assert "loopback" in result.stderr
