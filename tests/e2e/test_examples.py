"""Each example app, deployed through the API and the CLI, answers through the edge router."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.harness import SkyForge, deploy_and_wait, example_repo

pytestmark = pytest.mark.e2e


def test_every_example_deploys_through_the_api_and_answers_at_its_hostname(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    api = skyforge.api()
    assert api.post("/api/v1/projects", json={"name": "examples"}).status_code == 201
    kinds = {
        "python-plain": "kind: python-plain",
        "python-flask": "kind: python-flask",
        "static": "SkyForge static example",
    }
    for name in kinds:
        repo = example_repo(tmp_path, name)
        created = api.post(
            "/api/v1/projects/examples/services",
            json={"name": name, "source": {"git": str(repo), "branch": "main"}},
        )
        assert created.status_code == 201, created.text
    for name, marker in kinds.items():
        done = deploy_and_wait(api, "examples", name)
        logs = api.get(f"/api/v1/projects/examples/services/{name}/deploys/{done['id']}/logs")
        assert done["status"] == "succeeded", logs.text
        status, body = skyforge.get(f"{name}.examples.localhost")
        assert status == 200
        assert marker in body
        if name == "python-flask":
            assert "release phase ran" in logs.text


def test_the_cli_deploys_changes_config_rolls_back_and_shows_logs(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    repo = example_repo(tmp_path, "node")
    skyforge.cli("projects", "create", "shop")
    skyforge.cli("services", "create", "web", "--project", "shop", "--git", str(repo))
    deployed = skyforge.cli("deploy", "web", "--project", "shop")
    assert "Deployed v1" in deployed.stdout
    assert "npm" in deployed.stdout  # the build output was followed
    assert "<h1>hello</h1>" in skyforge.get("web.shop.localhost")[1]

    skyforge.cli("env", "set", "web", "-p", "shop", "GREETING=bonjour")
    skyforge.wait_for("web.shop.localhost", lambda body: "<h1>bonjour</h1>" in body)
    assert "GREETING" in skyforge.cli("env", "get", "web", "-p", "shop").stdout

    rolled = skyforge.cli("rollback", "web", "-p", "shop")
    assert "Deployed v3" in rolled.stdout
    assert "<h1>hello</h1>" in skyforge.get("web.shop.localhost")[1]
    releases = skyforge.cli("releases", "web", "-p", "shop", "--json").stdout
    assert '"version": 3' in releases.replace('"version":3', '"version": 3')

    logs = skyforge.cli("logs", "web", "-p", "shop", "--tail", "50").stdout
    assert "listening on port" in logs

    info = skyforge.cli("services", "info", "web", "-p", "shop", "--json").stdout
    assert '"status": "running"' in info.replace('"status":"running"', '"status": "running"')
    failing = skyforge.cli("deploy", "nope", "-p", "shop", check=False)
    assert failing.returncode != 0
