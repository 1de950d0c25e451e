"""`skyforge releases:info N`: what a release changed, by name only, against a real API."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from tests.cli.conftest import Cli
from tests.support import eventually


def releases(cli: Cli, project: str) -> list[int]:
    return [
        r["version"] for r in json.loads(cli("releases", "web", "-p", project, "--json").stdout)
    ]


@pytest.fixture
def project(cli: Cli, site: Path) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    assert cli("deploy", "web", "-p", name).exit_code == 0
    return name


async def test_a_release_shows_config_and_secret_names_that_changed_never_values(
    cli: Cli, project: str, site: Path
) -> None:
    commit = subprocess.run(
        ["git", "-C", str(site), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert cli("env", "set", "web", "-p", project, "KEEP=same-1", "OLD=gone-2").exit_code == 0
    assert cli("secrets", "set", "API_KEY=first-secret-3", "-p", project).exit_code == 0
    await eventually(lambda: releases(cli, project)[0] == 3)
    assert cli("secrets", "set", "API_KEY=second-secret-4", "-p", project).exit_code == 0
    await eventually(lambda: releases(cli, project)[0] == 4)
    changed = cli("env", "set", "web", "-p", project, "KEEP=other-5", "NEW=new-6")
    assert changed.exit_code == 0, changed.output
    await eventually(lambda: releases(cli, project)[0] == 5)
    assert cli("env", "unset", "web", "-p", project, "OLD").exit_code == 0
    await eventually(lambda: releases(cli, project)[0] == 6)

    shown = cli("releases:info", "5", "web", "-p", project, COLUMNS="80")
    secret = cli("releases:info", "v4", "web", "-p", project, COLUMNS="80")
    first = json.loads(cli("releases:info", "1", "web", "-p", project, "--json").stdout)

    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert any(line.startswith("Release") and "v5" in line for line in lines)
    assert commit in shown.stdout  # the whole id, to copy
    assert "Compared to  v4" in shown.stdout
    assert "+ NEW" in shown.stdout
    assert "~ KEEP" in shown.stdout
    assert "- OLD" in cli("releases:info", "6", "web", "-p", project).stdout
    assert all(len(line) <= 80 for line in lines)
    assert "Secrets      no change" in shown.stdout
    assert "~ API_KEY v2" in secret.stdout
    for value in ("same-1", "gone-2", "first-secret", "second-secret", "other-5", "new-6"):
        assert value not in shown.stdout + secret.stdout
    assert first["commit"] == commit
    assert first["changes"]["previous"] is None
    assert first["changes"]["config"] == {"added": [], "changed": [], "removed": []}


def test_a_release_that_does_not_exist_or_is_no_number_is_an_error(cli: Cli, project: str) -> None:
    missing = cli("releases:info", "9", "web", "-p", project)
    huge = cli("releases:info", "99999999999", "web", "-p", project)
    word = cli("releases:info", "latest", "web", "-p", project)

    assert missing.exit_code == 1
    assert "no release v9" in missing.stderr
    assert huge.exit_code == 2
    assert word.exit_code == 2
    assert "not a release number" in word.stderr
