"""Services, deploys, config vars, releases and rollback through the REST API.

The runtime is NullRuntime (runs nothing); builds are real (git clone + stack build).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support import make_git_repo

from skyforge.bootstrap import Platform
from skyforge.runtimes.null import NullRuntime

SVC = "/api/v1/projects/shop/services"


async def wait_deploy(
    api: httpx.AsyncClient, deploy_id: str, service: str = "web", timeout: float = 30
) -> dict[str, Any]:
    url = f"/api/v1/projects/shop/services/{service}/deploys/{deploy_id}"
    for _ in range(int(timeout / 0.1)):
        deploy: dict[str, Any] = (await api.get(url)).json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        await asyncio.sleep(0.1)
    raise AssertionError(f"deploy {deploy_id} did not finish: {deploy}")


async def latest_deploy(api: httpx.AsyncClient) -> dict[str, Any]:
    items = (await api.get(f"{SVC}/web/deploys")).json()["items"]
    return await wait_deploy(api, items[0]["id"])


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> httpx.AsyncClient:
    await api.post("/api/v1/projects", json={"name": "shop"})
    created = await api.post(SVC, json={"name": "web", "source": {"git": str(static_repo)}})
    assert created.status_code == 201, created.text
    return api


async def deploy(api: httpx.AsyncClient) -> dict[str, Any]:
    started = await api.post(f"{SVC}/web/deploys")
    assert started.status_code == 202
    assert started.json()["status"] == "queued"
    assert started.headers["location"].endswith(started.json()["id"])
    return await wait_deploy(api, started.json()["id"])


async def test_a_service_is_built_released_and_rolled_out(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    done = await deploy(shop)
    assert done["status"] == "succeeded", done
    assert done["release"] == 1
    logs = (await shop.get(f"{SVC}/web/deploys/{done['id']}/logs")).text
    assert "Static site detected" in logs or "static" in logs.lower()
    assert "Released v1" in logs
    service = (await shop.get(f"{SVC}/web")).json()
    assert service["release"] == 1
    assert service["status"] == "running"
    assert service["url"] == "http://web.shop.localhost:8080/"
    assert service["scale"] == {"web": 1}
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert runtime.rollouts[-1].key == "shop.web"
    assert runtime.rollouts[-1].hostnames == ("web.shop.localhost",)


async def test_a_failed_build_fails_the_deploy_and_keeps_the_release(
    shop: httpx.AsyncClient, tmp_path: Path
) -> None:
    assert (await deploy(shop))["status"] == "succeeded"
    broken = make_git_repo(tmp_path / "broken", {"README.md": "nothing to build here\n"})
    await shop.patch(f"{SVC}/web", json={"source": {"git": str(broken), "branch": "main"}})
    failed = await deploy(shop)
    assert failed["status"] == "failed"
    assert failed["error"]
    logs = (await shop.get(f"{SVC}/web/deploys/{failed['id']}/logs")).text
    assert failed["error"] in logs
    assert (await shop.get(f"{SVC}/web")).json()["release"] == 1


async def test_config_vars_make_a_new_release_and_rollback_restores_the_old_config(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await deploy(shop)
    changed = await shop.patch(f"{SVC}/web/env", json={"GREETING": "hi", "COLOR": "blue"})
    assert changed.json() == {"COLOR": "blue", "GREETING": "hi"}
    v2 = await latest_deploy(shop)
    assert (v2["kind"], v2["status"], v2["release"]) == ("config", "succeeded", 2)
    await shop.patch(f"{SVC}/web/env", json={"COLOR": None})
    assert (await shop.get(f"{SVC}/web/env")).json() == {"GREETING": "hi"}
    assert (await latest_deploy(shop))["release"] == 3
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert runtime.rollouts[-1].env["GREETING"] == "hi"
    assert "COLOR" not in runtime.rollouts[-1].env

    back = await shop.post(f"{SVC}/web/rollback", json={"release": 1})
    assert back.status_code == 202
    done = await wait_deploy(shop, back.json()["id"])
    assert (done["kind"], done["status"], done["release"]) == ("rollback", "succeeded", 4)
    assert "GREETING" not in runtime.rollouts[-1].env
    assert back.headers["location"].endswith(back.json()["id"])
    assert (await shop.get(f"{SVC}/web/env")).json() == {}  # v1's config vars are back
    releases = (await shop.get(f"{SVC}/web/releases")).json()["items"]
    assert [r["version"] for r in releases] == [4, 3, 2, 1]
    assert releases[0]["current"] and releases[0]["description"] == "Rollback to v1"

    previous = await shop.post(f"{SVC}/web/rollback")
    assert (await wait_deploy(shop, previous.json()["id"]))["release"] == 5
    assert runtime.rollouts[-1].env["GREETING"] == "hi"  # v3's config
    assert (await shop.get(f"{SVC}/web/env")).json() == {"GREETING": "hi"}


async def test_two_quick_config_changes_make_two_releases_each_with_its_own_change(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await deploy(shop)
    await platform.jobs.stop()  # the workers are busy: both changes wait in the queue
    try:
        assert (await shop.patch(f"{SVC}/web/env", json={"A": "1"})).status_code == 200
        assert (await shop.patch(f"{SVC}/web/env", json={"B": "2"})).status_code == 200
    finally:
        platform.jobs.start()
    queued = (await shop.get(f"{SVC}/web/deploys")).json()["items"][:2]
    done = [await wait_deploy(shop, d["id"]) for d in reversed(queued)]

    assert [(d["kind"], d["status"], d["release"]) for d in done] == [
        ("config", "succeeded", 2),
        ("config", "succeeded", 3),
    ]
    releases = (await shop.get(f"{SVC}/web/releases")).json()["items"]
    assert [(r["version"], r["config_names"]) for r in releases] == [
        (3, ["A", "B"]),
        (2, ["A"]),
        (1, []),
    ]
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert [r.env.get("A") for r in runtime.rollouts[-2:]] == ["1", "1"]
    assert [r.env.get("B") for r in runtime.rollouts[-2:]] == [None, "2"]


async def test_the_env_has_an_etag_and_a_stale_if_match_is_refused_with_412(
    shop: httpx.AsyncClient,
) -> None:
    env = f"{SVC}/web/env"
    first = await shop.get(env)
    tag = first.headers["etag"]

    changed = await shop.patch(env, json={"A": "1"}, headers={"If-Match": tag})
    stale = await shop.patch(env, json={"A": "2"}, headers={"If-Match": tag})
    unparsable = await shop.patch(env, json={"A": "3"}, headers={"If-Match": "nonsense"})
    fresh = await shop.patch(env, json={"A": "4"}, headers={"If-Match": changed.headers["etag"]})
    anything = await shop.patch(env, json={"B": "5"}, headers={"If-Match": "*"})
    unconditional = await shop.patch(env, json={"C": "6"})

    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != tag
    for refused in (stale, unparsable):
        assert refused.status_code == 412, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "changed" in refused.json()["detail"]
    assert fresh.status_code == anything.status_code == unconditional.status_code == 200
    now = await shop.get(env)
    assert now.json() == {"A": "4", "B": "5", "C": "6"}
    assert now.headers["etag"] == unconditional.headers["etag"]
    same = await shop.patch(env, json={"C": "6"}, headers={"If-Match": now.headers["etag"]})
    assert same.status_code == 200 and same.headers["etag"] == now.headers["etag"]  # no change


async def test_a_rollback_with_nothing_before_says_so(shop: httpx.AsyncClient) -> None:
    never = await shop.post(f"{SVC}/web/rollback")
    await deploy(shop)
    first = await shop.post(f"{SVC}/web/rollback")

    for refused in (never, first):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "nothing" in refused.json()["detail"]
    assert "first release" in first.json()["detail"]
    assert (await shop.post(f"{SVC}/web/rollback", json={"release": 0})).status_code == 422
    assert (await shop.post(f"{SVC}/web/rollback", json={"release": 7})).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"1BAD": "x"},
        {"PORT": "1"},
        {"SKYFORGE_X": "y"},
        {"A B": "x"},
        {"A": 1},
        {},
        {"A": "\x00"},
        {"A=B": "x"},
        {"A\nB": "x"},
    ],
)
async def test_bad_config_vars_are_refused_and_change_nothing(
    shop: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    await shop.patch(f"{SVC}/web/env", json={"KEEP": "1"})
    response = await shop.patch(f"{SVC}/web/env", json=body)
    assert response.status_code == 422
    assert (await shop.get(f"{SVC}/web/env")).json() == {"KEEP": "1"}


@pytest.mark.parametrize(
    "source",
    [
        {"git": "--upload-pack=touch /tmp/pwned"},
        {"git": "-oProxyCommand=x"},
        {"git": "ext::sh -c touch% /tmp/pwned"},
        {"git": "relative/path"},
        {"git": "/tmp/x", "branch": "--orphan"},
        {"git": "/tmp/x", "branch": "a..b"},
        {"git": "/tmp/x", "branch": "a b"},
        {"git": "https://x/\nrepo"},
    ],
)
async def test_sources_git_could_read_as_options_are_refused(
    api: httpx.AsyncClient, source: dict[str, str]
) -> None:
    await api.post("/api/v1/projects", json={"name": "shop"})
    response = await api.post(SVC, json={"name": "web", "source": source})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await api.get(SVC)).json()["items"] == []


async def test_service_names_are_dns_labels_and_unique(
    shop: httpx.AsyncClient, static_repo: Path
) -> None:
    bad = await shop.post(SVC, json={"name": "Web_1", "source": {"git": str(static_repo)}})
    assert bad.status_code == 422
    again = await shop.post(SVC, json={"name": "web", "source": {"git": str(static_repo)}})
    assert again.status_code == 409
    unknown = await shop.post(
        "/api/v1/projects/nope/services", json={"name": "web", "source": {"git": str(static_repo)}}
    )
    assert unknown.status_code == 404


async def test_scaling_reaches_the_runtime_and_unknown_types_are_refused(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    await deploy(shop)
    scaled = await shop.patch(f"{SVC}/web", json={"scale": {"web": 3}})
    assert scaled.status_code == 200
    assert scaled.json()["scale"] == {"web": 3}
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    for _ in range(50):
        if runtime.apps["shop.web"].process("web").count == 3:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.1)
    assert runtime.apps["shop.web"].process("web").count == 3  # type: ignore[union-attr]
    for body in (
        {"scale": {"worker": 1}},
        {"scale": {"web": -1}},
        {"scale": {"web": 1000}},
        {"scale": {"web": "3"}},
        {"scale": {"release": 1}},
    ):
        assert (await shop.patch(f"{SVC}/web", json=body)).status_code == 422, body
    assert (await shop.get(f"{SVC}/web")).json()["scale"] == {"web": 3}


async def test_a_services_resource_limits_reach_its_next_release_and_bad_ones_are_refused(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    chosen = {"memory_mb": 256, "processes": 64, "build_cpu_seconds": 120}
    updated = await shop.patch(f"{SVC}/web", json={"resources": chosen})
    assert updated.status_code == 200 and updated.json()["resources"] == chosen
    for body in (
        {"resources": {"memory_mb": 1}},
        {"resources": {"memory_mb": "256"}},
        {"resources": {"cpu": 3}},
        {"resources": {"processes": True}},
        {"resources": [256]},
    ):
        refused = await shop.patch(f"{SVC}/web", json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == "application/problem+json", body
    reset = await shop.patch(f"{SVC}/web", json={"resources": {"processes": None}})
    assert reset.json()["resources"] == {"memory_mb": 256, "build_cpu_seconds": 120}
    assert (await deploy(shop))["status"] == "succeeded"
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert runtime.apps["shop.web"].resources == {"memory_mb": 256, "build_cpu_seconds": 120}


async def test_a_services_boot_timeout_reaches_its_next_release_and_bad_ones_are_refused(
    shop: httpx.AsyncClient, platform: Platform, static_repo: Path
) -> None:
    assert (await shop.get(f"{SVC}/web")).json()["boot_timeout"] is None
    updated = await shop.patch(f"{SVC}/web", json={"boot_timeout": 180})
    assert updated.status_code == 200 and updated.json()["boot_timeout"] == 180
    for body in (
        {"boot_timeout": 0},
        {"boot_timeout": 601},
        {"boot_timeout": "90"},
        {"boot_timeout": 1.5},
        {"boot_timeout": True},
    ):
        refused = await shop.patch(f"{SVC}/web", json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == "application/problem+json", body
    assert (await shop.patch(f"{SVC}/web", json={"scale": {"web": 1}})).json()[
        "boot_timeout"
    ] == 180
    assert (await deploy(shop))["status"] == "succeeded"
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert runtime.apps["shop.web"].boot_timeout == 180
    reset = await shop.patch(f"{SVC}/web", json={"boot_timeout": None})
    assert reset.status_code == 200 and reset.json()["boot_timeout"] is None
    assert (await shop.get(f"{SVC}/web")).json()["boot_timeout"] is None
    source = {"git": str(static_repo)}
    too_long = await shop.post(SVC, json={"name": "api", "source": source, "boot_timeout": 601})
    assert too_long.status_code == 422, too_long.text


async def test_a_queued_deploy_can_be_cancelled_and_never_runs(shop: httpx.AsyncClient) -> None:
    first = (await shop.post(f"{SVC}/web/deploys")).json()
    second = (await shop.post(f"{SVC}/web/deploys")).json()
    cancelled = await shop.post(f"{SVC}/web/deploys/{second['id']}/cancel")
    assert cancelled.status_code == 202
    assert (await wait_deploy(shop, first["id"]))["status"] == "succeeded"
    final = await wait_deploy(shop, second["id"])
    assert final["status"] in ("cancelled", "succeeded")  # it may have started already
    if final["status"] == "cancelled":
        assert final["release"] is None
    again = await shop.post(f"{SVC}/web/deploys/{first['id']}/cancel")
    assert again.status_code == 409


async def test_deleting_a_service_stops_it(shop: httpx.AsyncClient, platform: Platform) -> None:
    await deploy(shop)
    assert (await shop.delete(f"{SVC}/web")).status_code == 204
    assert (await shop.get(f"{SVC}/web")).status_code == 404
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    for _ in range(50):
        if "shop.web" in runtime.removed:
            break
        await asyncio.sleep(0.1)
    assert "shop.web" in runtime.removed
