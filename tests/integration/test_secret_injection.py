"""Secrets reach a service's environment at rollout, and a change makes a new release.

The runtime is NullRuntime: it records the AppRelease of every rollout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyforge.bootstrap import Platform
from skyforge.runtimes.base import AppRelease
from skyforge.runtimes.null import NullRuntime

P = "/api/v1/projects/shop"


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> httpx.AsyncClient:
    await api.post("/api/v1/projects", json={"name": "shop"})
    for name in ("web", "api"):
        body = {"name": name, "source": {"git": str(static_repo)}}
        assert (await api.post(f"{P}/services", json=body)).status_code == 201
    return api


async def wait_deploy(api: httpx.AsyncClient, service: str, deploy_id: str) -> dict[str, Any]:
    for _ in range(300):
        deploy: dict[str, Any] = (
            await api.get(f"{P}/services/{service}/deploys/{deploy_id}")
        ).json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        await asyncio.sleep(0.1)
    raise AssertionError(f"deploy {deploy_id} did not finish")


async def deploy(api: httpx.AsyncClient, service: str = "web") -> dict[str, Any]:
    started = await api.post(f"{P}/services/{service}/deploys")
    assert started.status_code == 202, started.text
    return await wait_deploy(api, service, started.json()["id"])


async def latest(api: httpx.AsyncClient, service: str = "web") -> dict[str, Any]:
    items = (await api.get(f"{P}/services/{service}/deploys")).json()["items"]
    return await wait_deploy(api, service, items[0]["id"])


def rolled_out(platform: Platform, key: str = "shop.web") -> AppRelease:
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    return [app for app in runtime.rollouts if app.key == key][-1]


async def put(api: httpx.AsyncClient, name: str, value: str, **extra: Any) -> None:
    response = await api.put(f"{P}/secrets/{name}", json={"value": value, **extra})
    assert response.status_code in (200, 201), response.text


async def test_a_deploy_injects_the_secrets_a_service_sees_and_a_secret_beats_a_config_var(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await put(shop, "SHARED", "shared-1")
    await put(shop, "WEB_ONLY", "web-1", service="web")
    await put(shop, "API_ONLY", "api-1", service="api")
    await shop.patch(f"{P}/services/web/env", json={"SHARED": "from-config", "PLAIN": "p"})

    assert (await deploy(shop))["status"] == "succeeded"

    env = rolled_out(platform).env
    assert (env["SHARED"], env["WEB_ONLY"], env["PLAIN"]) == ("shared-1", "web-1", "p")
    assert "API_ONLY" not in env
    assert (await shop.get(f"{P}/services/web/env")).json()["SHARED"] == "from-config"


async def test_changing_or_deleting_a_secret_rolls_out_a_new_release_of_its_services(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await put(shop, "SHARED", "shared-1")
    await put(shop, "WEB_ONLY", "web-1", service="web")
    assert (await deploy(shop, "web"))["release"] == 1
    assert (await deploy(shop, "api"))["release"] == 1

    await put(shop, "SHARED", "shared-2")
    web, api = await latest(shop, "web"), await latest(shop, "api")
    assert (web["kind"], web["status"], web["release"]) == ("config", "succeeded", 2)
    assert (api["kind"], api["status"], api["release"]) == ("config", "succeeded", 2)
    assert rolled_out(platform, "shop.web").env["SHARED"] == "shared-2"
    assert rolled_out(platform, "shop.api").env["SHARED"] == "shared-2"
    releases = (await shop.get(f"{P}/services/web/releases")).json()["items"]
    assert releases[0]["description"] == "Secrets changed"

    await put(shop, "WEB_ONLY", "web-2", service="web")  # only web gets a release
    assert (await latest(shop, "web"))["release"] == 3
    assert (await latest(shop, "api"))["release"] == 2

    assert (await shop.delete(f"{P}/secrets/WEB_ONLY")).status_code == 204
    assert (await latest(shop, "web"))["release"] == 4
    assert "WEB_ONLY" not in rolled_out(platform).env


async def test_a_rollback_runs_the_secret_versions_of_the_release_it_returns_to(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await put(shop, "TOKEN", "token-1")
    await deploy(shop)
    await put(shop, "TOKEN", "token-2")
    assert (await latest(shop))["release"] == 2

    back = await shop.post(f"{P}/services/web/rollback", json={"release": 1})
    done = await wait_deploy(shop, "web", back.json()["id"])

    assert (done["status"], done["release"]) == ("succeeded", 3)
    assert rolled_out(platform).env["TOKEN"] == "token-1"
    current = (await shop.get(f"{P}/secrets/TOKEN")).json()
    assert current["version"] == 2  # the secret itself is not rolled back


async def test_the_listing_for_a_service_says_which_secrets_its_running_release_carries(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await put(shop, "OLD", "old-1")
    await deploy(shop)  # v1 runs OLD v1
    await put(shop, "NEW", "new-1", service="web")
    await put(shop, "OLD", "old-2")
    assert (await latest(shop))["release"] == 3

    back = await shop.post(f"{P}/services/web/rollback", json={"release": 1})
    assert (await wait_deploy(shop, "web", back.json()["id"]))["status"] == "succeeded"
    web = (await shop.get(f"{P}/secrets", params={"service": "web"})).json()["items"]
    project = (await shop.get(f"{P}/secrets")).json()["items"]

    assert "NEW" not in rolled_out(platform).env
    running = {s["name"]: (s["in_current_release"], s["current_release_version"]) for s in web}
    assert running == {"OLD": (True, 1), "NEW": (False, None)}
    assert {s["name"]: s["version"] for s in web} == {"OLD": 2, "NEW": 1}  # not rolled back
    # Not listed for one service: no one release to compare with.
    assert {(s["in_current_release"], s["current_release_version"]) for s in project} == {
        (None, None)
    }


async def test_the_listing_for_a_never_deployed_service_names_no_release(
    shop: httpx.AsyncClient,
) -> None:
    await put(shop, "TOKEN", "token-1")

    web = (await shop.get(f"{P}/secrets", params={"service": "web"})).json()["items"]

    assert [(s["in_current_release"], s["current_release_version"]) for s in web] == [(None, None)]


async def test_a_rollback_to_a_release_whose_secret_was_deleted_fails_and_keeps_serving(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await put(shop, "TOKEN", "token-1")
    await deploy(shop)
    await shop.delete(f"{P}/secrets/TOKEN")
    assert (await latest(shop))["release"] == 2

    back = await shop.post(f"{P}/services/web/rollback", json={"release": 1})
    done = await wait_deploy(shop, "web", back.json()["id"])

    assert done["status"] == "failed"
    assert "TOKEN v1 no longer exists" in done["error"]
    assert (await shop.get(f"{P}/services/web")).json()["release"] == 2
    assert "TOKEN" not in rolled_out(platform).env


async def test_a_secret_set_before_the_first_deploy_queues_nothing(
    shop: httpx.AsyncClient,
) -> None:
    await put(shop, "TOKEN", "token-1")
    assert (await shop.get(f"{P}/services/web/deploys")).json()["items"] == []


async def test_the_reconciler_brings_a_service_back_with_its_secrets(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await put(shop, "TOKEN", "token-1")
    await deploy(shop)
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    count = len(runtime.rollouts)

    runtime.apps.clear()  # as if the processes were gone after a restart
    platform.reconciler.wake()
    for _ in range(100):
        if len(runtime.rollouts) > count:
            break
        await asyncio.sleep(0.05)

    assert runtime.rollouts[-1].env["TOKEN"] == "token-1"
