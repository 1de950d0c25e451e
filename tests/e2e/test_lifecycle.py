"""A running service through config changes, scaling, crashes and control-plane restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import PROBE_APP, SKYFORGE, SkyForge, deploy_and_wait, pid_alive, wait_deploy
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"
SVC = "/api/v1/projects/shop/services/web"


def create_probe(skyforge: SkyForge, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "probe", PROBE_APP)
    api = skyforge.api()
    api.post("/api/v1/projects", json={"name": "shop"})
    created = api.post(
        "/api/v1/projects/shop/services", json={"name": "web", "source": {"git": str(repo)}}
    )
    assert created.status_code == 201
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"


def web_pids(skyforge: SkyForge) -> set[int]:
    return {int(i["pid"]) for i in skyforge.instances() if i["type"] == "web"}


def all_pids(skyforge: SkyForge) -> set[int]:
    return {int(i["pid"]) for i in skyforge.instances()}


def wait_until(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def test_config_scale_rollback_and_a_killed_process(skyforge: SkyForge, tmp_path: Path) -> None:
    create_probe(skyforge, tmp_path)
    api = skyforge.api()
    first = json.loads(skyforge.get(HOST)[1])
    assert (first["release"], first["greeting"]) == ("v1", "hello")

    api.patch(f"{SVC}/env", json={"GREETING": "hi"})
    body = skyforge.wait_for(HOST, lambda b: json.loads(b)["greeting"] == "hi")
    assert json.loads(body)["release"] == "v2"

    assert api.patch(SVC, json={"scale": {"web": 3}}).status_code == 200
    seen: set[str] = set()

    def three_answer() -> bool:
        seen.update(json.loads(skyforge.get(HOST)[1])["pid"] for _ in range(6))
        return len(seen) == 3 and len(web_pids(skyforge)) == 3

    wait_until(three_answer)  # the router balances between the three
    assert len(web_pids(skyforge)) == 3

    workers = [i for i in skyforge.instances() if i["type"] == "worker"]
    assert len(workers) == 1
    follower = subprocess.Popen(
        [str(SKYFORGE), "logs", "web", "-p", "shop", "-f", "--tail", "0"],
        env=skyforge.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        line = follower.stdout.readline()  # a new line, printed as the worker writes it
        assert "worker tick v2" in line
    finally:
        follower.kill()
        follower.wait()
        if follower.stdout is not None:
            follower.stdout.close()

    victim = next(iter(web_pids(skyforge)))
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in web_pids(skyforge) and len(web_pids(skyforge)) == 3)
    assert skyforge.get(HOST)[0] == 200

    back = api.post(f"{SVC}/rollback", json={"release": 1})
    assert wait_deploy(api, "shop", "web", back.json()["id"])["status"] == "succeeded"
    body = skyforge.wait_for(HOST, lambda b: json.loads(b)["greeting"] == "hello")
    assert json.loads(body)["release"] == "v3"
    assert api.get(f"{SVC}/env").json() == {}


def test_a_restarted_control_plane_brings_every_service_back(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    create_probe(skyforge, tmp_path)
    before = all_pids(skyforge)
    serving = json.loads(skyforge.get(HOST)[1])["pid"]
    skyforge.stop(signal.SIGTERM)
    assert not any(pid_alive(p) for p in before), "skyforge up left apps running"

    skyforge.start()
    body = skyforge.wait_for(HOST, lambda b: json.loads(b)["release"] == "v1")
    assert json.loads(body)["pid"] != serving
    deploys = skyforge.api().get(f"{SVC}/deploys").json()["items"]
    assert len(deploys) == 1  # came back without a new deploy


def test_after_sigkill_the_next_start_adopts_what_lived_on(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    create_probe(skyforge, tmp_path)
    apps = all_pids(skyforge)
    caddy_pid = int((skyforge.data_dir / "run" / "caddy.pid").read_text().split()[0])
    skyforge.stop(signal.SIGKILL)
    assert all(pid_alive(p) for p in apps)
    # The router and the app live on (asked again for a while: on a loaded machine one answer
    # may take longer than the router waits; nothing is left to rewrite its upstreams).
    assert json.loads(skyforge.wait_for(HOST, lambda _body: True))["release"] == "v1"

    skyforge.start()
    assert skyforge.get(HOST)[0] == 200
    assert all_pids(skyforge) == apps  # adopted, not restarted
    running_caddy = int((skyforge.data_dir / "run" / "caddy.pid").read_text().split()[0])
    assert running_caddy == caddy_pid
    api = skyforge.api()
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"
    skyforge.wait_for(HOST, lambda b: json.loads(b)["release"] == "v2")
    everything = all_pids(skyforge) | apps | {caddy_pid}

    skyforge.stop(signal.SIGTERM)
    wait_until(lambda: not any(pid_alive(p) for p in everything), timeout=15)


def test_two_instances_run_side_by_side_on_one_host(skyforge: SkyForge, tmp_path: Path) -> None:
    with SkyForge(tmp_path / "other").running() as other:
        for sf in (skyforge, other):
            create_probe(sf, tmp_path / f"src-{sf.data_dir.name}")  # outside both data dirs
        mine = json.loads(skyforge.get(HOST)[1])["pid"]
        theirs = json.loads(other.get(HOST)[1])["pid"]
        assert mine != theirs
        assert (skyforge.data_dir / "run" / "caddy-admin.sock").exists()
        assert (other.data_dir / "run" / "caddy-admin.sock").exists()


def test_the_admin_token_is_generated_at_first_start_and_printed_once(tmp_path: Path) -> None:
    sf = SkyForge(tmp_path / "fresh")
    sf.start(admin_token=None)
    try:
        printed = [line for line in sf.log().splitlines() if "Admin token" in line]
        assert len(printed) == 1
        token = printed[0].split(":", 1)[1].split()[0]
        ok = httpx.get(f"{sf.url}/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert token not in (sf.data_dir / "skyforge.db").read_bytes().decode(errors="replace")
        sf.stop()
        sf.start(admin_token=None)
        assert sum("Admin token" in line for line in sf.log().splitlines()) == 1
    finally:
        sf.stop()


def test_a_rollback_right_after_a_config_change_went_live_returns_to_the_release_before(
    tmp_path: Path,
) -> None:
    # The old instances drain for 5 s after traffic moved: the window the rollback lands in.
    with SkyForge(tmp_path / "data").running(extra_env={"SKYFORGE_DRAIN_SECONDS": "5"}) as sf:
        create_probe(sf, tmp_path)
        api = sf.api()
        assert api.patch(f"{SVC}/env", json={"GREETING": "hi"}).status_code == 200
        live = sf.wait_for(HOST, lambda b: json.loads(b)["greeting"] == "hi")
        assert json.loads(live)["release"] == "v2"

        releases = api.get(f"{SVC}/releases").json()["items"]
        back = api.post(f"{SVC}/rollback")

        assert [(r["version"], r["current"]) for r in releases] == [(2, True), (1, False)]
        assert back.status_code == 202, back.text
        assert wait_deploy(api, "shop", "web", back.json()["id"])["status"] == "succeeded"
        body = sf.wait_for(HOST, lambda b: json.loads(b)["greeting"] == "hello")
        assert json.loads(body)["release"] == "v3"
        assert api.get(f"{SVC}/releases").json()["items"][0]["description"] == "Rollback to v1"


def test_a_short_admin_token_is_refused_at_start_without_being_printed(tmp_path: Path) -> None:
    sf = SkyForge(tmp_path / "short")
    short = "only-twenty-one-chars"
    env = {**sf.env, "SKYFORGE_ADMIN_TOKEN": short}
    done = subprocess.run([str(SKYFORGE), "up"], env=env, capture_output=True, timeout=60)
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 1, output
    assert "SKYFORGE_ADMIN_TOKEN must be at least 32 characters (it has 21)" in output
    assert short not in output
    assert "Traceback" not in output
    assert not sf.data_dir.exists()  # refused before anything was written
