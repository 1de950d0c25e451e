"""Stopping `skyforge up` with clients connected, and one process per data dir."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import SKYFORGE, TOKEN, SkyForge, pid_alive
from tests.e2e.test_lifecycle import HOST, SVC, all_pids, create_probe

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_skyforge_while_log_followers_are_connected(
    tmp_path: Path, sig: signal.Signals
) -> None:
    follower: subprocess.Popen[str] | None = None
    # On a failure, leaving the block sends another signal, which forces the stop.
    with SkyForge(tmp_path / "data").running() as sf:
        try:
            create_probe(sf, tmp_path)
            apps = all_pids(sf)
            assert apps and all(pid_alive(pid) for pid in apps)
            caddy = int((sf.data_dir / "run" / "caddy.pid").read_text().split()[0])
            assert pid_alive(caddy)
            follower = subprocess.Popen(
                [str(SKYFORGE), "logs", "web", "-p", "shop", "-f", "--tail", "1"],
                env=sf.env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert follower.stdout is not None
            assert follower.stdout.readline()  # its stream is open and flowing
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with (
                httpx.Client(base_url=sf.url, headers=headers, timeout=30) as client,
                client.stream("GET", f"{SVC}/logs", headers={"Accept": "text/event-stream"}) as sse,
                client.stream("GET", f"{SVC}/logs", params={"follow": "true"}) as text,
            ):
                assert sse.status_code == 200 and text.status_code == 200
                assert sf.proc is not None
                sf.proc.send_signal(sig)
                try:
                    code = sf.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"skyforge up still runs:\n{sf.log()[-3000:]}") from None
                sf.proc = None
        finally:
            if follower is not None:
                follower.kill()
                follower.wait()
                assert follower.stdout is not None
                follower.stdout.close()
    assert code == 0, sf.log()[-3000:]
    assert "SkyForge stopped." in sf.log()
    assert [pid for pid in [*apps, caddy] if pid_alive(pid)] == []
    assert not (sf.data_dir / "run" / "caddy.pid").exists()


def test_a_second_skyforge_on_a_data_dir_in_use_refuses_to_start(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    create_probe(skyforge, tmp_path)
    assert skyforge.proc is not None
    second = SkyForge(skyforge.data_dir)  # the same data dir, other ports
    assert second.api_port != skyforge.api_port
    done = subprocess.run(
        [str(SKYFORGE), "up"], env=second.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert f"pid {skyforge.proc.pid}" in said, said
    assert str(skyforge.data_dir) in said
    skyforge.wait_for(HOST, lambda body: '"release": "v1"' in body)  # the first one still serves
    assert httpx.get(f"{skyforge.url}/readyz").status_code == 200


def test_a_killed_skyforge_leaves_no_lock_behind(tmp_path: Path) -> None:
    sf = SkyForge(tmp_path / "data")
    sf.start()
    sf.stop(signal.SIGKILL)  # its lock file stays; the kernel released the lock
    assert (sf.data_dir / "run" / "skyforge.lock").exists()
    again = SkyForge(sf.data_dir)
    with again.running():
        assert httpx.get(f"{again.url}/readyz").status_code == 200
