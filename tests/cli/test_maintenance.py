"""`skyforge maintenance on|off` through the CLI against a real API (the edge: e2e)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from tests.cli.conftest import TOKEN, Cli


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    return name


def test_maintenance_is_turned_on_and_off_and_shown(cli: Cli, project: str) -> None:
    on = cli("maintenance", "on", "web", "-p", project)
    shown = cli("services", "info", "web", "-p", project)
    listed = cli("services", "list", "-p", project)
    off = cli("maintenance", "off", "web", "-p", project, "--json")

    assert on.exit_code == 0, on.output
    assert "web is in maintenance" in on.stdout
    assert f"skyforge maintenance off web -p {project}" in on.stderr
    assert "Maintenance   on" in shown.stdout
    assert "not deployed (maintenance)" in listed.stdout
    assert off.exit_code == 0
    assert json.loads(off.stdout)["maintenance"] is False


def test_a_wrong_switch_or_value_is_refused(cli: Cli, server: str, project: str) -> None:
    wrong = cli("maintenance", "maybe", "web", "-p", project)
    loose = httpx.patch(
        f"{server}/api/v1/projects/{project}/services/web",
        json={"maintenance": "yes"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert wrong.exit_code == 2
    assert loose.status_code == 422
    assert loose.headers["content-type"].startswith("application/problem+json")
    assert (
        json.loads(cli("services", "info", "web", "-p", project, "--json").stdout)["maintenance"]
        is False
    )
