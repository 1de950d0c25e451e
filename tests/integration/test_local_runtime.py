"""LocalRuntime against real processes: rollouts, supervision, adoption, logs, release phase."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests.support import APP_PYTHON, WHO_AM_I, eventually, gone, host_pids

from skyforge.edge.null import NullEdge
from skyforge.runtimes.base import AppRelease, LogLine, ProcessType, RolloutFailed
from skyforge.runtimes.local import LocalRuntime
from skyforge.runtimes.local.command import build_env, to_argv
from skyforge.runtimes.local.registry import Registry, app_to_json

KEY = "shop.web"
PYTHON = APP_PYTHON

APP = (
    WHO_AM_I
    + r"""
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ME = who_am_i()
with open("pids.txt", "a") as f:
    f.write(f"{ME}\n")
mode = os.environ.get("MODE", "ok")
print(f"starting {os.environ['SKYFORGE_PROCESS']} {os.environ['SKYFORGE_RELEASE']}", flush=True)
if mode == "crash":
    print("boom: cannot start", flush=True)
    sys.exit(3)
if mode == "hang":
    time.sleep(3600)
if mode == "no-listen":  # leaves its port to whoever takes it
    open("port.txt", "w").write(sys.argv[1])
    time.sleep(3600)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "unavailable":  # up, but never ready (a database it lacks, ...)
            status, body = 503, "unavailable"
        elif self.path == "/health" and mode == "sick":
            status, body = 500, "sick"
        elif self.path == "/env":
            status, body = 200, json.dumps(dict(os.environ))
        elif self.path == "/pid":
            status, body = 200, ME
        elif self.path.startswith("/say/"):
            print("said", self.path[5:], flush=True)
            status, body = 200, "ok"
        else:
            status, body = 200, os.environ["SKYFORGE_RELEASE"]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""
)

WORKER = (
    WHO_AM_I
    + r"""
import os, time
with open("pids.txt", "a") as f:
    f.write(f"{who_am_i()}\n")
assert "PORT" not in os.environ
while True:
    print("worker tick", flush=True)
    time.sleep(0.2)
"""
)

RELEASE = (
    WHO_AM_I
    + r"""
import os, sys, time
with open("release-pids.txt", "a") as f:
    f.write(f"{who_am_i()}\n")
print("migrating", flush=True)
print("migrated", flush=True)
if os.environ.get("RELEASE_MODE") == "fail":
    sys.exit(4)
if os.environ.get("RELEASE_MODE") == "slow":
    time.sleep(60)
"""
)

HELPER = r"""
import asyncio, json, sys
from pathlib import Path
from skyforge.edge.null import NullEdge
from skyforge.runtimes.local import LocalRuntime
from skyforge.runtimes.local.registry import app_from_json

async def main():
    runtime = LocalRuntime(Path(sys.argv[1]), NullEdge(), drain_seconds=0.1, stop_grace=2)
    await runtime.start()
    await runtime.rollout(app_from_json(json.loads(sys.argv[2])), lambda line: None, 20)
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def make_app(
    root: Path,
    version: int,
    *,
    web: int = 1,
    worker: int = 0,
    mode: str = "ok",
    health: str | None = None,
    release_id: str | None = None,
    env: dict[str, str] | None = None,
    key: str = KEY,
    boot_timeout: float | None = None,
) -> AppRelease:
    slug = root / f"slug-{key}-v{version}"
    slug.mkdir(exist_ok=True)
    (slug / "app.py").write_text(APP)
    (slug / "worker.py").write_text(WORKER)
    (slug / "release.py").write_text(RELEASE)
    processes = [ProcessType("web", f"{PYTHON.name} app.py $PORT", web)]
    if worker:
        processes.append(ProcessType("worker", f"{PYTHON.name} worker.py", worker))
    return AppRelease(
        key=key,
        hostnames=(f"{key.split('.')[1]}.{key.split('.')[0]}.localhost",),
        release_id=release_id or f"rel{version}",
        version=version,
        slug_dir=slug,
        processes=tuple(processes),
        # PATH carries the interpreter's directory: "python" is resolved through it.
        env={"PATH": f"{PYTHON.parent}:/usr/bin:/bin", "MODE": mode, **(env or {})},
        health_check_path=health,
        release_command=f"{PYTHON.name} release.py",
        boot_timeout=boot_timeout,
    )


def pids(app: AppRelease, name: str = "pids.txt") -> list[str]:
    """How each process the app started named itself (see WHO_AM_I), in start order."""
    path = app.slug_dir / name
    return path.read_text().split() if path.exists() else []


async def get(address: str, path: str = "/") -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"http://{address}{path}")


class Lines(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)

    def position(self, prefix: str, nth: int = 0) -> int:
        """Where the `nth` line starting with `prefix` is."""
        return [n for n, line in enumerate(self) if line.startswith(prefix)][nth]


@pytest.fixture(autouse=True)
def _no_orphans(tmp_path: Path) -> Iterator[None]:
    """Whatever a failed test leaves behind is killed (the runtime's close() comes first)."""
    yield
    for pid_file in tmp_path.glob("slug-*/*pids.txt"):
        for token in pid_file.read_text().split():
            for pid in host_pids(token):
                with contextlib.suppress(OSError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)


@pytest.fixture
def edge() -> NullEdge:
    return NullEdge()


@pytest.fixture
async def runtime(tmp_path: Path, edge: NullEdge) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(
        tmp_path / "data", edge, drain_seconds=0.3, stop_grace=2.0, health_timeout=10.0
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


# -- commands -----------------------------------------------------------------------------


def test_a_command_is_split_and_expanded_without_a_shell(tmp_path: Path) -> None:
    env = {"PATH": f"{PYTHON.parent}", "PORT": "5000", "NAME": "a b"}
    argv = to_argv(
        f"{PYTHON.name} -m app --bind 0.0.0.0:$PORT --name=${{NAME}} ${{MISSING:-dflt}} $NOPE '&&'",
        env,
        tmp_path,
    )
    program = str(PYTHON.parent / PYTHON.name)
    options = ["-m", "app", "--bind", "0.0.0.0:5000", "--name=a b", "dflt", "", "&&"]
    assert argv == [program, *options]


def test_the_environment_is_built_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYFORGE_ADMIN_TOKEN", "top-secret-admin-token-0123456789")
    app = make_app(tmp_path, 3, env={"PATH": "/opt/bin"})
    env = build_env(app, "web", 1, 4000)
    assert env["PATH"] == "/opt/bin"
    assert env["HOME"] == str(app.slug_dir)
    assert (env["PORT"], env["SKYFORGE_PROCESS"], env["SKYFORGE_RELEASE"]) == (
        "4000",
        "web.1",
        "v3",
    )
    assert "SKYFORGE_ADMIN_TOKEN" not in env


# -- rollouts -----------------------------------------------------------------------------


async def test_a_rollout_switches_traffic_without_a_failed_request(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    v1, v2 = make_app(tmp_path, 1), make_app(tmp_path, 2)
    await runtime.rollout(v1, Lines(), 10)
    [old_pid] = pids(v1)
    seen: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def hammer() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while not stop.is_set():
                try:
                    seen.append((await client.get(f"http://{edge.upstreams[KEY][0]}/")).text)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    client = asyncio.create_task(hammer())
    await asyncio.sleep(0.3)
    log = Lines()
    await runtime.rollout(v2, log, 10)
    await asyncio.sleep(0.5)
    stop.set()
    await client
    assert failures == []
    assert seen[0] == "v1" and seen[-1] == "v2" and len(seen) > 50
    assert "-----> Switched traffic to v2" in log
    assert gone(old_pid)
    assert (await runtime.observe())[KEY].release_id == "rel2"


async def test_a_release_that_never_becomes_healthy_leaves_v1_serving(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    await runtime.rollout(make_app(tmp_path, 1, health="/health"), Lines(), 10)
    before = list(edge.upstreams[KEY])
    sick = make_app(tmp_path, 2, mode="sick", health="/health")
    with pytest.raises(RolloutFailed, match="answered 500 to GET /health"):
        await runtime.rollout(sick, Lines(), 1.5)
    assert edge.upstreams[KEY] == before
    assert (await get(before[0])).text == "v1"
    assert all(gone(pid) for pid in pids(sick))
    assert (await runtime.observe())[KEY].release_id == "rel1"


async def test_a_release_answering_503_fails_with_the_reason_and_v1_keeps_serving(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    await runtime.rollout(make_app(tmp_path, 1), Lines(), 10)
    before = list(edge.upstreams[KEY])
    unavailable = make_app(tmp_path, 2, mode="unavailable", boot_timeout=2)
    log = Lines()
    with pytest.raises(RolloutFailed) as failure:
        await runtime.rollout(unavailable, log, 10)
    assert re.match(
        r"web\.1 answered 503 to GET / on port \d+, never 2xx/3xx, within its boot timeout of 2 s",
        str(failure.value),
    )
    assert "-----> Waiting for web.1 to answer GET / with 2xx/3xx (boot timeout 2 s)" in log
    assert edge.upstreams[KEY] == before
    assert (await get(before[0])).text == "v1"
    assert all(gone(pid) for pid in pids(unavailable))
    assert (await runtime.observe())[KEY].release_id == "rel1"


async def test_an_app_that_never_listens_fails_after_its_boot_timeout_saying_so_meanwhile(
    tmp_path: Path, edge: NullEdge
) -> None:
    runtime = LocalRuntime(tmp_path / "data", edge, stop_grace=2.0, progress_every=1.0)
    await runtime.start()
    try:
        app = make_app(tmp_path, 1, mode="hang", boot_timeout=3)
        log = Lines()
        with pytest.raises(RolloutFailed) as failure:
            await runtime.rollout(app, log, 30)
    finally:
        await runtime.close()
    assert re.match(
        r"web\.1 did not answer GET / on port \d+ within its boot timeout of 3 s",
        str(failure.value),
    )
    progress = [line for line in log if line.startswith("-----> Waiting for web.1 to listen")]
    assert progress, log
    assert all(
        re.fullmatch(r"-----> Waiting for web\.1 to listen on port \d+ \(\d s of 3 s\)", line)
        for line in progress
    ), progress
    assert KEY not in edge.upstreams


async def test_a_crash_looping_web_fails_fast_with_its_last_lines(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    await runtime.rollout(make_app(tmp_path, 1), Lines(), 10)
    before = list(edge.upstreams[KEY])
    started = time.monotonic()
    with pytest.raises(RolloutFailed, match=r"web\.1 crashed 3 times") as failure:
        await runtime.rollout(make_app(tmp_path, 2, mode="crash"), Lines(), 30)
    assert time.monotonic() - started < 6
    assert "boom: cannot start" in str(failure.value)
    assert edge.upstreams[KEY] == before
    assert (await get(before[0])).text == "v1"


async def test_a_command_that_does_not_exist_fails_the_rollout(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    app = make_app(tmp_path, 1)
    broken = dataclasses.replace(app, processes=(ProcessType("web", "no-such-program $PORT", 1),))
    with pytest.raises(RolloutFailed, match=r"web\.1: command not found: no-such-program"):
        await runtime.rollout(broken, Lines(), 10)
    assert KEY not in await runtime.observe()
    assert KEY not in edge.upstreams


async def test_a_killed_instance_comes_back_by_itself(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    v1 = make_app(tmp_path, 1)
    await runtime.rollout(v1, Lines(), 10)
    [first] = pids(v1)
    [host_pid] = host_pids(first)
    os.kill(host_pid, signal.SIGKILL)  # the app itself, inside its sandbox
    await eventually(lambda: len(pids(v1)) == 2)
    second = pids(v1)[1]
    for _ in range(100):
        with contextlib.suppress(httpx.HTTPError, IndexError):  # none while it restarts
            if (await get(edge.upstreams[KEY][0], "/pid")).text == str(second):
                break
        await asyncio.sleep(0.05)
    assert (await get(edge.upstreams[KEY][0], "/pid")).text == str(second)
    assert (await runtime.observe())[KEY].healthy


async def test_a_dead_instance_gets_no_traffic_until_it_serves_again(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    v1 = make_app(tmp_path, 1, web=2)
    await runtime.rollout(v1, Lines(), 10)
    both = list(edge.upstreams[KEY])
    victim = (await get(both[0], "/pid")).text
    for host_pid in host_pids(victim):
        os.killpg(os.getpgid(host_pid), signal.SIGKILL)
    # While it is down its port may be anyone's: it leaves the upstreams at once...
    await eventually(lambda: edge.upstreams[KEY] == both[1:])
    # ...and comes back when its new process serves (on its old port if still free).
    await eventually(lambda: len(edge.upstreams[KEY]) == 2, timeout=15)
    assert both[1] in edge.upstreams[KEY]
    assert {(await get(a, "/pid")).text for a in edge.upstreams[KEY]} == set(pids(v1)) - {victim}


SQUATTER = r"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"not the app")

HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


async def test_a_port_another_process_took_first_never_passes_the_health_check(
    tmp_path: Path, runtime: LocalRuntime
) -> None:
    app = make_app(tmp_path, 1, mode="no-listen")
    log = Lines()
    rollout = asyncio.create_task(runtime.rollout(app, log, 5))
    await eventually(lambda: (app.slug_dir / "port.txt").exists())
    port = (app.slug_dir / "port.txt").read_text()
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    squatter = subprocess.Popen([*nobody, str(PYTHON), "-c", SQUATTER, port])
    try:
        await eventually(lambda: port_taken(int(port)))
        with pytest.raises(RolloutFailed, match=f"another process holds port {port}"):
            await rollout
    finally:
        squatter.kill()
        squatter.wait()
    assert KEY not in await runtime.observe()


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_scaling_starts_and_stops_only_the_difference(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    await runtime.rollout(make_app(tmp_path, 1, web=1), Lines(), 10)
    [first] = edge.upstreams[KEY]
    first_pid = (await get(first, "/pid")).text
    await runtime.rollout(make_app(tmp_path, 1, web=3), Lines(), 10)
    assert len(edge.upstreams[KEY]) == 3 and edge.upstreams[KEY][0] == first
    answers = [(await get(address, "/pid")).text for address in edge.upstreams[KEY]]
    assert answers[0] == first_pid and len(set(answers)) == 3
    assert (await runtime.observe())[KEY].counts == {"web": 3}
    await runtime.rollout(make_app(tmp_path, 1, web=1), Lines(), 10)
    assert edge.upstreams[KEY] == [first]
    assert (await get(first, "/pid")).text == first_pid
    assert all(gone(pid) for pid in answers[1:])
    assert (await runtime.observe())[KEY].counts == {"web": 1}


async def test_a_worker_runs_and_is_not_routed(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    v1 = make_app(tmp_path, 1, worker=1)
    await runtime.rollout(v1, Lines(), 10)
    assert len(edge.upstreams[KEY]) == 1
    assert (await runtime.observe())[KEY].counts == {"web": 1, "worker": 1}
    no_web = make_app(tmp_path, 2, web=0, worker=1)
    await runtime.rollout(no_web, Lines(), 10)
    assert edge.upstreams[KEY] == []
    assert [route.key for route in edge.routes] == [KEY]
    assert (await runtime.observe())[KEY].counts == {"worker": 1}
    assert all(gone(pid) for pid in pids(v1))


async def test_services_roll_out_concurrently_and_one_services_rollouts_queue(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    log = Lines()
    await asyncio.gather(
        runtime.rollout(make_app(tmp_path, 1, key="shop.api"), lambda s: log(f"api {s}"), 10),
        runtime.rollout(make_app(tmp_path, 1), lambda s: log(f"web {s}"), 10),
        runtime.rollout(make_app(tmp_path, 2), lambda s: log(f"web {s}"), 10),
    )
    # Both services started before either switched: they did not wait for each other...
    assert log.position("web -----> Starting") < log.position("api -----> Switched")
    # ... while web's v2 waited for its v1 to be done.
    assert log.position("web -----> Switched traffic to v1") < log.position(
        "web -----> Starting", nth=1
    )
    observed = await runtime.observe()
    assert {key: o.release_id for key, o in observed.items()} == {
        "shop.api": "rel1",
        KEY: "rel2",
    }
    assert observed[KEY].counts == {"web": 1}
    assert len(edge.upstreams[KEY]) == len(edge.upstreams["shop.api"]) == 1
    assert sorted(route.key for route in edge.routes) == ["shop.api", KEY]
    assert (await get(edge.upstreams[KEY][0])).text == "v2"
    await runtime.remove("shop.api")
    assert [route.key for route in edge.routes] == [KEY]
    assert "shop.api" not in await runtime.observe()


class BrokenEdge(NullEdge):
    """Fails the next set_upstreams (an edge router that went away mid-rollout)."""

    broken = False

    async def set_upstreams(self, key: str, addresses: list[str]) -> None:
        if self.broken:
            self.broken = False
            raise ConnectionError("edge admin API unreachable")
        await super().set_upstreams(key, addresses)


async def test_an_edge_that_fails_to_switch_fails_the_rollout_and_v1_keeps_serving(
    tmp_path: Path,
) -> None:
    edge = BrokenEdge()
    runtime = LocalRuntime(tmp_path / "data", edge, drain_seconds=0.1, stop_grace=2)
    await runtime.start()
    try:
        await runtime.rollout(make_app(tmp_path, 1), Lines(), 10)
        before = list(edge.upstreams[KEY])
        edge.broken = True
        v2 = make_app(tmp_path, 2)
        with pytest.raises(RolloutFailed, match="switching traffic failed"):
            await runtime.rollout(v2, Lines(), 10)
        assert edge.upstreams[KEY] == before
        assert (await get(before[0])).text == "v1"
        assert gone(pids(v2)[0])
        assert (await runtime.observe())[KEY].release_id == "rel1"
        await runtime.rollout(v2, Lines(), 10)  # and the next attempt goes through
        assert (await get(edge.upstreams[KEY][0])).text == "v2"
    finally:
        await runtime.close()


async def test_cancelling_a_rollout_leaves_the_old_release_serving(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    await runtime.rollout(make_app(tmp_path, 1), Lines(), 10)
    before = list(edge.upstreams[KEY])
    hung = make_app(tmp_path, 2, mode="hang")
    task = asyncio.create_task(runtime.rollout(hung, Lines(), 30))
    await eventually(lambda: len(pids(hung)) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert edge.upstreams[KEY] == before
    assert (await get(before[0])).text == "v1"
    assert gone(pids(hung)[0])


async def test_the_app_never_sees_the_control_planes_environment(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYFORGE_ADMIN_TOKEN", "top-secret-admin-token-0123456789")
    v1 = make_app(tmp_path, 1, env={"GREETING": "hi"})
    await runtime.rollout(v1, Lines(), 10)
    env = (await get(edge.upstreams[KEY][0], "/env")).json()
    assert "SKYFORGE_ADMIN_TOKEN" not in env
    assert env["GREETING"] == "hi" and env["SKYFORGE_PROCESS"] == "web.1"
    assert env["HOME"] == str(v1.slug_dir) and env["SKYFORGE_RELEASE"] == "v1"
    # The registry holds config vars: only the owner may read it.
    for record in (tmp_path / "data" / "run").rglob("*.json"):
        assert stat.S_IMODE(record.stat().st_mode) == 0o600


# -- release phase ------------------------------------------------------------------------


async def test_the_release_phase_streams_its_output(tmp_path: Path, runtime: LocalRuntime) -> None:
    log = Lines()
    await runtime.run_release_phase(make_app(tmp_path, 1), log, 10)
    assert log[-2:] == ["migrating", "migrated"]


async def test_a_failing_release_phase_raises(tmp_path: Path, runtime: LocalRuntime) -> None:
    app = make_app(tmp_path, 1, env={"RELEASE_MODE": "fail"})
    with pytest.raises(RolloutFailed, match="release phase failed with exit code 4"):
        await runtime.run_release_phase(app, Lines(), 10)


async def test_a_release_phase_past_its_timeout_is_killed(
    tmp_path: Path, runtime: LocalRuntime
) -> None:
    app = make_app(tmp_path, 1, env={"RELEASE_MODE": "slow"})
    started = time.monotonic()
    with pytest.raises(RolloutFailed, match="timed out"):
        await runtime.run_release_phase(app, Lines(), 1)
    assert time.monotonic() - started < 3
    assert gone(pids(app, "release-pids.txt")[0])


# -- logs ---------------------------------------------------------------------------------


async def test_logs_show_the_apps_lines_and_follow_new_ones(
    tmp_path: Path, runtime: LocalRuntime, edge: NullEdge
) -> None:
    await runtime.rollout(make_app(tmp_path, 1), Lines(), 10)
    lines = [line async for line in runtime.logs(KEY, follow=False, tail=10)]
    assert LogLine(lines[0].time, "web.1", "starting web.1 v1") in lines
    follow = runtime.logs(KEY, follow=True, tail=1)
    try:
        assert (await anext(follow)).line == lines[-1].line  # the tail comes first
        await get(edge.upstreams[KEY][0], "/say/hello")
        line = await asyncio.wait_for(anext(follow), 5)
        assert (line.source, line.line) == ("web.1", "said hello")
    finally:
        await follow.aclose()  # type: ignore[attr-defined]


# -- adoption -----------------------------------------------------------------------------


def run_control_plane_and_kill_it(data: Path, app: AppRelease) -> None:
    """Roll `app` out from another process, then SIGKILL that process (no cleanup at all)."""
    helper = subprocess.Popen(
        [sys.executable, "-c", HELPER, str(data), json.dumps(app_to_json(app))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert helper.stdout is not None
        assert helper.stdout.readline().strip() == "ready"
    finally:
        helper.kill()
        helper.wait()
        if helper.stdout is not None:
            helper.stdout.close()


async def test_a_new_control_plane_adopts_what_a_killed_one_left_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v1 = make_app(tmp_path, 1)
    await asyncio.wait_for(asyncio.to_thread(run_control_plane_and_kill_it, data, v1), 30)
    [pid] = pids(v1)
    edge = NullEdge()
    runtime = LocalRuntime(data, edge, drain_seconds=0.1, stop_grace=2)
    try:
        await runtime.start()
        [address] = edge.upstreams[KEY]
        assert (await get(address, "/pid")).text == str(pid)  # the same process, still serving
        assert [route.key for route in edge.routes] == [KEY]
        observed = (await runtime.observe())[KEY]
        assert (observed.release_id, observed.counts, observed.healthy) == (
            "rel1",
            {"web": 1},
            True,
        )
    finally:
        await runtime.close()
    assert gone(pid)
    assert pids(v1) == [pid]  # adopted, never restarted
    assert list((data / "run" / "instances").glob("*.json")) == []


async def test_an_instance_that_died_with_the_control_plane_is_restarted_at_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    v1 = make_app(tmp_path, 1)
    await asyncio.wait_for(asyncio.to_thread(run_control_plane_and_kill_it, data, v1), 30)
    [pid] = pids(v1)
    for host_pid in host_pids(pid):
        os.killpg(os.getpgid(host_pid), signal.SIGKILL)
    await eventually(lambda: gone(pid))
    edge = NullEdge()
    runtime = LocalRuntime(data, edge, drain_seconds=0.1, stop_grace=2)
    try:
        await runtime.start()
        await eventually(lambda: len(pids(v1)) == 2)
        [address] = edge.upstreams[KEY]
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if (await get(address)).text == "v1":
                    break
            await asyncio.sleep(0.05)
        assert (await get(address)).text == "v1"
    finally:
        await runtime.close()
    assert all(gone(p) for p in pids(v1))


async def test_the_records_a_killed_control_plane_leaves_hold_no_secret_and_are_adopted(
    tmp_path: Path,
) -> None:
    """run/instances and run/apps describe every instance with its whole environment: they
    are sealed, so reading them (as an app that reached the data dir could) shows no value."""
    data = tmp_path / "data"
    secret = "sk_live_in-the-records-3b8e1f"
    v1 = dataclasses.replace(
        make_app(tmp_path, 1, env={"API_KEY": secret}), secret_names=frozenset({"API_KEY"})
    )
    await asyncio.wait_for(asyncio.to_thread(run_control_plane_and_kill_it, data, v1), 30)
    records = sorted((data / "run").glob("*/*.json"))
    assert {p.parent.name for p in records} == {"instances", "apps"}
    for path in records:
        raw = path.read_bytes()
        assert secret.encode() not in raw and b"API_KEY" not in raw, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [pid] = pids(v1)
    edge = NullEdge()
    runtime = LocalRuntime(data, edge, drain_seconds=0.1, stop_grace=2)
    try:
        await runtime.start()
        [address] = edge.upstreams[KEY]
        assert (await get(address, "/pid")).text == str(pid)  # adopted from the sealed records
        assert json.loads((await get(address, "/env")).text)["API_KEY"] == secret
    finally:
        await runtime.close()


def test_records_an_older_version_wrote_in_plaintext_are_read_and_sealed_at_once(
    tmp_path: Path,
) -> None:
    run = tmp_path / "data" / "run"
    app = make_app(tmp_path, 1, env={"API_KEY": "plain-old-secret"})
    record = {
        "id": "i1",
        "type": "web",
        "index": 1,
        "port": 5000,
        "pid": 4242,
        "start_time": 1,
        "log_path": str(tmp_path / "web.1.log"),
        "app": app_to_json(app),
    }
    for path, doc in (
        (run / "instances" / "i1.json", record),
        (run / "apps" / f"{KEY}.json", app_to_json(app)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))

    registry = Registry(run)
    [loaded] = registry.load()
    apps = registry.load_apps()

    assert (loaded.app, loaded.pid, apps) == (app, 4242, {KEY: app})
    for path in run.glob("*/*.json"):
        assert b"plain-old-secret" not in path.read_bytes(), path
    assert registry.load()[0].app == app and registry.load_apps() == {KEY: app}
