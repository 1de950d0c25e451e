"""Deploy benchmark: how fast a change goes live, and how many requests a rollout loses.

Starts a real `skyforge up` (embedded defaults, Caddy edge, local runtime) in a temporary data
dir, deploys a small Python app and prints:
- cached redeploy: from POST .../deploys to the edge serving the new release;
- config change: from PATCH .../env to the edge serving the new value;
- failed requests while redeploying 10 times (and scaling 1 -> 3 -> 1) under steady load, for
  clients opening a new connection per request and for keep-alive clients;
- latency per request (p50, p99, max) of those clients with nothing going on, and over 3
  redeploys and a config change: a rollout should add nothing a client notices (~100 ms);
- the same with wrk (10 keep-alive connections, its default), when wrk is installed
  (Debian: `apt-get install wrk`; a benchmark tool, not a dependency of SkyForge).

Run: .venv/bin/python bench/deploy.py [--redeploys 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait, example_repo  # noqa: E402
from tests.support import make_git_repo  # noqa: E402

HOST = "web.bench.localhost"
SVC = "/api/v1/projects/bench/services/web"


@dataclass
class Load:
    """Clients hammering the edge until stopped; they count what failed."""

    port: int
    keepalive: bool
    ok: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    # (when it started, how long it took) of every request answered 200, connecting included
    timings: list[tuple[float, float]] = field(default_factory=list)

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/", headers={"Host": HOST})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    self.ok += 1
                    self.timings.append((started, time.monotonic() - started))
                else:
                    self._fail(f"HTTP {response.status}")
                if not self.keepalive or response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                self._fail(type(exc).__name__)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _fail(self, what: str) -> None:
        self.failed += 1
        self.errors[what] = self.errors.get(what, 0) + 1


def served(sf: SkyForge, key: str, value: str, timeout: float = 60) -> float:
    """Wait until the edge answers with body[key] == value; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = sf.get(HOST)
            if status == 200 and json.loads(body).get(key) == value:
                return time.monotonic()
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {key}={value}")


def latency(loads: list[Load], since: float, until: float) -> str:
    """p50 / p99 / max of the requests the loads started in [since, until)."""
    seconds = sorted(t for load in loads for start, t in load.timings if since <= start < until)
    if not seconds:
        return "no requests"
    p50, p99 = seconds[len(seconds) // 2], seconds[min(len(seconds) - 1, len(seconds) * 99 // 100)]
    return f"{p50 * 1000:5.1f} / {p99 * 1000:6.1f} / {seconds[-1] * 1000:6.1f} ms ({len(seconds)})"


def rollouts(sf: SkyForge, api: httpx.Client, tag: str) -> None:
    """Three redeploys and a config change, each waited for; the issue's scenario."""
    for _ in range(3):
        deploy_and_wait(api, "bench", "web")
    api.patch(f"{SVC}/env", json={"GREETING": tag})
    served(sf, "greeting", tag)


def wrk(port: int, seconds: float) -> subprocess.Popen[str]:
    """wrk's default load (2 threads, 10 keep-alive connections), 2 s timeout, for `seconds`."""
    argv = ["wrk", "--latency", "--timeout", "2s", "-d", f"{seconds:.0f}s", "-H", f"Host: {HOST}"]
    return subprocess.Popen([*argv, f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, text=True)


def wrk_summary(output: str) -> str:
    """p99 and max latency, timeouts and non-2xx answers from wrk's report."""
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    most = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", output, re.M)
    timeouts = re.search(r"timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    return (
        f"p99 {p99[1] if p99 else '?'}, max {most[1] if most else '?'}, "
        f"{timeouts[1] if timeouts else 0} timeouts (> 2 s), "
        f"{non_2xx[1] if non_2xx else 0} non-2xx, of {requests[1] if requests else '?'}"
    )


def release_of(sf: SkyForge) -> int:
    return int(json.loads(sf.get(HOST)[1])["release"][1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redeploys", type=int, default=10)
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="skyforge-bench-") as tmp:
        sf = SkyForge(Path(tmp) / "data")
        sf.start()
        try:
            run(sf, Path(tmp), args.redeploys, args.samples)
        finally:
            sf.stop()
            for client in sf.clients:
                client.close()


def run(sf: SkyForge, tmp: Path, redeploys: int, samples: int) -> None:
    api = sf.api()
    repo = make_git_repo(tmp / "app", PROBE_APP)
    api.post("/api/v1/projects", json={"name": "bench"})
    api.post("/api/v1/projects/bench/services", json={"name": "web", "source": {"git": str(repo)}})
    started = time.monotonic()
    deploy_and_wait(api, "bench", "web")
    served(sf, "release", "v1")
    print(f"first deploy (cold cache):       {time.monotonic() - started:6.2f} s")

    redeploy = []
    for _ in range(samples):
        target = f"v{release_of(sf) + 1}"
        t0 = time.monotonic()
        api.post(f"{SVC}/deploys")
        redeploy.append(served(sf, "release", target) - t0)
    print(
        f"cached redeploy, trigger->live:  {statistics.median(redeploy):6.2f} s median "
        f"({', '.join(f'{x:.2f}' for x in redeploy)})"
    )

    flask = example_repo(tmp, "python-flask")
    api.post(
        "/api/v1/projects/bench/services", json={"name": "flask", "source": {"git": str(flask)}}
    )
    deploy_and_wait(api, "bench", "flask")  # fills the dependency cache
    flask_times = []
    for _ in range(samples):
        t0 = time.monotonic()
        deploy_and_wait(api, "bench", "flask")
        flask_times.append(time.monotonic() - t0)
    print(
        f"cached redeploy, Flask + gunicorn (uv install from cache, release phase): "
        f"{statistics.median(flask_times):.2f} s median "
        f"({', '.join(f'{x:.2f}' for x in flask_times)})"
    )

    config = []
    for i in range(samples):
        t0 = time.monotonic()
        api.patch(f"{SVC}/env", json={"GREETING": f"bench-{i}"})
        config.append(served(sf, "greeting", f"bench-{i}") - t0)
    print(
        f"config change, PATCH->live:      {statistics.median(config):6.2f} s median "
        f"({', '.join(f'{x:.2f}' for x in config)})"
    )

    loads = [Load(sf.edge_port, keepalive=k) for k in (False, False, True, True)]
    threads = [threading.Thread(target=load.run, daemon=True) for load in loads]
    for thread in threads:
        thread.start()
    quiet = time.monotonic()
    time.sleep(5)  # what the app itself needs under this load: nothing else going on
    t0 = time.monotonic()
    rollouts(sf, api, "rollout")
    t1 = time.monotonic()
    for _ in range(max(redeploys - 3, 0)):
        deploy_and_wait(api, "bench", "web")
    elapsed = time.monotonic() - t0
    after_redeploys = [(load.ok, load.failed) for load in loads]
    for count in (3, 1, 3, 1):
        api.patch(SVC, json={"scale": {"web": count}})
        time.sleep(3)
    for load in loads:
        load.stop.set()
    for thread in threads:
        thread.join()

    print(f"{redeploys} redeploys under load ({elapsed:.1f} s), then scaling 1->3->1->3->1:")
    for keepalive in (False, True):
        group = [
            (load, snap)
            for load, snap in zip(loads, after_redeploys, strict=True)
            if load.keepalive == keepalive
        ]
        ok = sum(snap[0] for _, snap in group)
        failed = sum(snap[1] for _, snap in group)
        scale_ok = sum(load.ok for load, _ in group) - ok
        scale_failed = sum(load.failed for load, _ in group) - failed
        label = "keep-alive clients:   " if keepalive else "new connection each:  "
        print(
            f"  {label} redeploys {ok:6d} ok {failed:3d} failed | "
            f"scaling {scale_ok:6d} ok {scale_failed:3d} failed"
        )
    errors: dict[str, int] = {}
    for load in loads:
        for k, v in load.errors.items():
            errors[k] = errors.get(k, 0) + v
    if errors:
        print(f"  errors: {errors}")
    print("latency per request, p50 / p99 / max (requests):")
    for keepalive in (False, True):
        group = [load for load in loads if load.keepalive == keepalive]
        label = "keep-alive clients:   " if keepalive else "new connection each:  "
        print(
            f"  {label} nothing going on {latency(group, quiet, t0)} | "
            f"3 redeploys + a config change {latency(group, t0, t1)}"
        )
    if shutil.which("wrk") is None:
        print("wrk: not installed (apt-get install wrk), skipped")
        return
    steady = wrk(sf.edge_port, 5).communicate()[0]
    during = wrk(sf.edge_port, 60)
    time.sleep(1)
    rollouts(sf, api, "wrk")
    during.send_signal(signal.SIGINT)  # wrk stops and prints its report
    report = during.communicate()[0]
    print(f"wrk -c10 keep-alive, nothing going on:            {wrk_summary(steady)}")
    print(f"wrk -c10 keep-alive, 3 redeploys + config change: {wrk_summary(report)}")


if __name__ == "__main__":
    main()
