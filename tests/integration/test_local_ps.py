"""What the local runtime tells `skyforge ps` of instances it adopted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.integration.test_local_runtime import KEY, make_app, run_control_plane_and_kill_it

from skyforge.edge.null import NullEdge
from skyforge.runtimes.local import LocalRuntime


async def test_an_adopted_instance_shows_when_it_really_started(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v1 = make_app(tmp_path, 1)
    await asyncio.wait_for(asyncio.to_thread(run_control_plane_and_kill_it, data, v1), 30)
    adopting = time.time()
    runtime = LocalRuntime(data, NullEdge(), drain_seconds=0.1, stop_grace=2)
    try:
        await runtime.start()
        [web] = await runtime.processes(KEY)
        assert (web.name, web.state, web.restarts, web.version) == ("web.1", "up", 0, 1)
        assert web.started_at < adopting  # started by the control plane before this one
    finally:
        await runtime.close()
    assert await runtime.processes(KEY) == []
