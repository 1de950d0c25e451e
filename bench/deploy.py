"""Deploy benchmark: how fast a change goes live, and how many requests a rollout loses.

Starts a real `skyforge up` (embedded defaults, Caddy edge, local runtime) in a temporary data
dir, deploys a small Python app and prints:
- cached redeploy: from POST .../deploys to the edge serving the new release;
- config change: from PATCH .../env to the edge serving the new value;
- failed requests while redeploying 10 times (and scaling 1 -> 3 -> 1) under steady load, for
  clients opening a new connection per request and for keep-alive clients.

Run: .venv/bin/python bench/deploy.py [--redeploys 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

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

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/", headers={"Host": HOST})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    self.ok += 1
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
    t0 = time.monotonic()
    for _ in range(redeploys):
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


if __name__ == "__main__":
    main()
