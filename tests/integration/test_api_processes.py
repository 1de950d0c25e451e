"""ps, restart and run through the REST API (NullRuntime): what they answer, and bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.integration.conftest import People
from tests.integration.test_api_services import SVC, deploy, wait_deploy
from tests.support import make_git_repo

from skyforge.bootstrap import Platform
from skyforge.runtimes.null import NullRuntime


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> httpx.AsyncClient:
    """A project shop with a service web, not yet deployed."""
    await api.post("/api/v1/projects", json={"name": "shop"})
    created = await api.post(SVC, json={"name": "web", "source": {"git": str(static_repo)}})
    assert created.status_code == 201, created.text
    return api


async def test_nothing_can_be_restarted_or_run_before_the_first_deploy(
    shop: httpx.AsyncClient,
) -> None:
    restarted = await shop.post(f"{SVC}/web/restart")
    assert restarted.status_code == 409
    assert restarted.headers["content-type"] == "application/problem+json"
    ran = await shop.post(f"{SVC}/web/runs", json={"command": "echo hi"})
    assert ran.status_code == 409 and "deploy it first" in ran.json()["detail"]
    assert (await shop.get(f"{SVC}/web/processes")).json() == {"items": []}
    assert (await shop.get(f"{SVC}/web/deploys")).json()["items"] == []


async def test_a_restart_is_a_deploy_of_the_current_release_and_makes_no_release(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await deploy(shop)
    items = (await shop.get(f"{SVC}/web/processes")).json()["items"]
    assert [(p["name"], p["state"], p["release"]) for p in items] == [("web.1", "up", 1)]

    started = await shop.post(f"{SVC}/web/restart", json={"process": "web"})
    assert started.status_code == 202, started.text
    done = await wait_deploy(shop, started.json()["id"])
    assert (done["kind"], done["status"], done["release"]) == ("restart", "succeeded", 1)
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert [(app.version, process) for app, process in runtime.restarts] == [(1, "web")]
    releases = (await shop.get(f"{SVC}/web/releases")).json()["items"]
    assert [r["version"] for r in releases] == [1]


async def test_a_restart_of_an_unknown_or_stopped_process_type_is_refused(
    shop: httpx.AsyncClient,
) -> None:
    await deploy(shop)
    unknown = await shop.post(f"{SVC}/web/restart", json={"process": "clock"})
    assert unknown.status_code == 422 and "clock" in unknown.json()["detail"]
    bad = await shop.post(f"{SVC}/web/restart", json={"process": "../web"})
    assert bad.status_code == 422
    assert (await shop.patch(f"{SVC}/web", json={"scale": {"web": 0}})).status_code == 200
    stopped = await shop.post(f"{SVC}/web/restart", json={"process": "web"})
    assert stopped.status_code == 409 and "scaled to 0" in stopped.json()["detail"]
    assert (await shop.get(f"{SVC}/web")).json()["status"] == "stopped"


async def test_a_run_answers_its_output_and_then_its_exit_status(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await deploy(shop)
    ran = await shop.post(f"{SVC}/web/runs", json={"command": "python manage.py check"})
    assert ran.status_code == 200
    assert ran.headers["x-skyforge-run"] == "run.1"
    assert ran.text == "skyforge-exit-status: 0\n"
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert runtime.runs[-1][1] == "python manage.py check"

    detached = await shop.post(f"{SVC}/web/runs", json={"command": "sleep 1", "detach": True})
    assert (detached.status_code, detached.json()) == (202, {"id": "run.2"})


async def test_a_run_command_that_cannot_be_split_or_is_empty_is_refused(
    shop: httpx.AsyncClient,
) -> None:
    await deploy(shop)
    for command in ("echo 'unbalanced", ""):
        refused = await shop.post(f"{SVC}/web/runs", json={"command": command})
        assert refused.status_code == 422, command
        assert refused.headers["content-type"] == "application/problem+json"


async def test_a_viewer_sees_the_processes_but_cannot_restart_or_run(
    people: People, static_repo: Path
) -> None:
    await people.admin.post("/api/v1/projects", json={"name": "shop"})
    body = {"name": "web", "source": {"git": str(static_repo)}}
    assert (await people.admin.post(SVC, json=body)).status_code == 201
    assert (await deploy(people.admin))["status"] == "succeeded"
    viewer = await people.user("viewer@example.com")
    added = await people.admin.post(
        "/api/v1/projects/shop/members", json={"email": "viewer@example.com", "role": "viewer"}
    )
    assert added.status_code == 201, added.text
    assert (await viewer.get(f"{SVC}/web/processes")).status_code == 200
    for path, payload in (("restart", None), ("runs", {"command": "id"})):
        refused = await viewer.post(f"{SVC}/web/{path}", json=payload)
        assert refused.status_code == 403, path
    assert (await people.admin.get(f"{SVC}/web/deploys")).json()["items"][0]["kind"] == "build"


async def test_a_new_services_worker_runs_one_instance_until_scaled(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    files = {"Procfile": "web: python3 -m http.server $PORT\nworker: python3 worker.py\n"}
    repo = make_git_repo(tmp_path / "app", {**files, "worker.py": "print('beat')\n"})
    await api.post("/api/v1/projects", json={"name": "shop"})
    body = {"name": "web", "source": {"git": str(repo)}}
    assert (await api.post(SVC, json=body)).status_code == 201

    started = await api.post(f"{SVC}/web/deploys")
    assert (await wait_deploy(api, started.json()["id"]))["status"] == "succeeded"
    items = (await api.get(f"{SVC}/web/processes")).json()["items"]
    service = (await api.get(f"{SVC}/web")).json()

    assert [(p["name"], p["state"]) for p in items] == [("web.1", "up"), ("worker.1", "up")]
    assert service["scale"] == {"web": 1, "worker": 1}  # a worker counts as 1 until scaled
