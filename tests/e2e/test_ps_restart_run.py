"""`skyforge ps`, `restart` and `run` against a started SkyForge with real processes."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait
from tests.e2e.test_lifecycle import wait_until
from tests.e2e.test_secrets_live import set_secret
from tests.support import host_pids, make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"
SHOP = "/api/v1/projects/shop/services"


def create(skyforge: SkyForge, tmp_path: Path, name: str, files: dict[str, str]) -> None:
    api = skyforge.api()
    api.post("/api/v1/projects", json={"name": "shop"})
    repo = make_git_repo(tmp_path / name, files)
    created = api.post(SHOP, json={"name": name, "source": {"git": str(repo)}})
    assert created.status_code == 201, created.text


def ps(skyforge: SkyForge, service: str) -> dict[str, dict[str, object]]:
    done = skyforge.cli("ps", service, "-p", "shop", "--json")
    return {p["name"]: p for p in json.loads(done.stdout)}


def status(skyforge: SkyForge, service: str) -> str:
    return str(
        json.loads(skyforge.cli("services", "info", service, "-p", "shop", "--json").stdout)[
            "status"
        ]
    )


def test_ps_lists_each_instance_and_restart_replaces_them_without_a_failed_request(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    create(skyforge, tmp_path, "web", PROBE_APP)
    assert deploy_and_wait(skyforge.api(), "shop", "web")["status"] == "succeeded"

    seen = ps(skyforge, "web")
    assert set(seen) == {"web.1", "worker.1"}
    assert seen["web.1"]["state"] == "up" and seen["web.1"]["release"] == 1
    assert isinstance(seen["web.1"]["port"], int) and seen["worker.1"]["port"] is None
    table = skyforge.cli("ps", "web", "-p", "shop", env_extra={"COLUMNS": "80"}).stdout
    assert "web.1" in table and "up" in table and "v1" in table
    assert all(len(line) <= 80 for line in table.splitlines())

    before = json.loads(skyforge.get(HOST)[1])["pid"]
    failures: list[object] = []
    answered: set[str] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                code, body = skyforge.get(HOST)
            except OSError as exc:
                failures.append(exc)
                continue
            if code != 200:
                failures.append((code, body))
            else:
                answered.add(json.loads(body)["pid"])

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        done = skyforge.cli("restart", "web", "-p", "shop", "web")
    finally:
        stop.set()
        poller.join()
    assert "Restarted web of web (v1)" in done.stdout
    after = json.loads(skyforge.get(HOST)[1])
    assert after["pid"] != before and after["release"] == "v1"
    assert failures == []
    assert before in answered  # the poller ran during the restart, not only after it
    restarted = ps(skyforge, "web")
    assert set(restarted) == {"web.1", "worker.1"}
    assert restarted["worker.1"]["started_at"] == seen["worker.1"]["started_at"]  # web only
    releases = skyforge.api().get(f"{SHOP}/web/releases").json()["items"]
    assert [r["version"] for r in releases] == [1]  # a restart makes no release

    skyforge.cli("scale", "web", "web=0", "worker=0", "-p", "shop")
    wait_until(lambda: ps(skyforge, "web") == {})
    assert status(skyforge, "web") == "stopped"
    page = skyforge.wait_status(HOST, 503)
    assert "web.shop.localhost</code> is scaled to 0 web processes" in page
    assert "no running release" not in page


def test_a_crash_looping_process_shows_as_crashed(skyforge: SkyForge, tmp_path: Path) -> None:
    files = {
        **PROBE_APP,
        "Procfile": "web: python app.py\nworker: python -c 'raise SystemExit(1)'\n",
    }
    create(skyforge, tmp_path, "loop", files)
    assert deploy_and_wait(skyforge.api(), "shop", "loop")["status"] == "succeeded"

    wait_until(lambda: int(ps(skyforge, "loop")["worker.1"]["restarts"]) >= 2)
    assert status(skyforge, "loop") == "crashed"
    assert ps(skyforge, "loop")["web.1"]["state"] == "up"


def test_run_prints_the_config_and_returns_the_exit_status_in_the_sandbox(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    create(skyforge, tmp_path, "web", PROBE_APP)
    api = skyforge.api()
    api.patch(f"{SHOP}/web/env", json={"GREETING": "hi from config"})
    secret = f"s3cret-{uuid.uuid4().hex}"
    set_secret(skyforge, secret)
    assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"

    script = (
        "import os,sys; print(os.environ['GREETING']); print('uid', os.getuid());"
        " print(os.environ['SKYFORGE_PROCESS']); print(os.environ['API_KEY']); sys.exit(3)"
    )
    done = skyforge.cli("run", "web", "-p", "shop", "--", "python", "-c", script, check=False)
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    app_pid = host_pids(json.loads(skyforge.get(HOST)[1])["pid"])[0]  # the app, not a wrapper
    status = Path(f"/proc/{app_pid}/status").read_text()
    web_uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert web_uid != 0  # the service's sandbox uid: the run's too
    assert lines[:3] == ["hi from config", f"uid {web_uid}", "run.1"]
    assert secret not in done.stdout and "****" in lines[3]
    assert "skyforge-exit-status" not in done.stdout

    # No shell: the command's words are its arguments, `;` included.
    echoed = skyforge.cli("run", "web", "-p", "shop", "--", "echo", "a;", "id", check=False)
    assert (echoed.returncode, echoed.stdout) == (0, "a; id\n")

    missing = skyforge.cli("run", "web", "-p", "shop", "--", "no-such-program", check=False)
    assert missing.returncode == 1 and "command not found" in missing.stderr

    started = skyforge.cli(
        "run", "web", "-p", "shop", "--detach", "--", "python", "-c", "print('in the background')"
    )
    assert "run.3" in started.stdout

    def in_logs() -> bool:
        out = skyforge.cli("logs", "web", "-p", "shop", "--process", "run").stdout
        return "in the background" in out

    wait_until(in_logs)
