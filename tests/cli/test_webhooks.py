"""Webhooks through the CLI, against a real API."""

from __future__ import annotations

import json
import uuid

import pytest
from tests.cli.conftest import Cli


@pytest.fixture
def project(cli: Cli) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    return name


def test_a_webhook_is_added_listed_pinged_and_removed(cli: Cli, project: str) -> None:
    url = f"https://{project}.example.invalid/hook"
    added = cli("webhooks", "add", url, "-p", project, "-e", "deploy.succeeded", "-e", "deploy.*")
    [hook] = json.loads(cli("webhooks", "list", "-p", project, "--json").stdout)
    pinged = cli("webhooks", "ping", hook["id"], "-p", project)
    log = json.loads(cli("webhooks", "deliveries", hook["id"], "-p", project, "--json").stdout)
    table = cli("webhooks", "deliveries", hook["id"], "-p", project)
    removed = cli("webhooks", "remove", hook["id"], "-p", project)

    assert added.exit_code == 0, added.output
    assert "Signing secret (shown once, store it now): whsec_" in added.stdout
    assert (hook["url"], hook["events"]) == (url, ["deploy.succeeded", "deploy.*"])
    assert pinged.exit_code == 0, pinged.output
    assert [d["event_type"] for d in log] == ["webhook.ping"]
    assert "webhook.ping" in table.stdout
    assert removed.exit_code == 0
    assert json.loads(cli("webhooks", "list", "-p", project, "--json").stdout) == []


def test_a_refused_target_is_a_one_line_error(cli: Cli, project: str) -> None:
    result = cli("webhooks", "add", "http://169.254.169.254/latest", "-p", project)

    assert result.exit_code == 1
    assert "link-local" in result.stderr
