"""One-off runs of the local runtime: bounded by their timeout, ended with their stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.integration.test_local_runtime import KEY, PYTHON, Lines, make_app
from tests.integration.test_stream_access import running_with
from tests.support import WHO_AM_I, eventually, gone

from skyforge.edge.null import NullEdge
from skyforge.kernel.errors import Conflict
from skyforge.runtimes.base import RUN_TIMED_OUT
from skyforge.runtimes.local import LocalRuntime

SLEEPER = WHO_AM_I + "print(who_am_i(), flush=True)\nimport time\ntime.sleep(60)\n"


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    """A local runtime serving v1 of KEY, with sleeper.py in its slug."""
    runtime = LocalRuntime(tmp_path / "data", NullEdge(), drain_seconds=0.3, stop_grace=2.0)
    await runtime.start()
    app = make_app(tmp_path, 1)
    (app.slug_dir / "sleeper.py").write_text(SLEEPER)
    try:
        await runtime.rollout(app, Lines(), 10)
        yield runtime
    finally:
        await runtime.close()


async def test_a_run_past_its_timeout_is_killed_and_exits_124(serving: LocalRuntime) -> None:
    run = await serving.run(KEY, f"{PYTHON.name} sleeper.py", 1.0, detach=False)
    lines = [line async for line in run.output()]
    assert lines[-1] == "skyforge: run timed out after 1 s\n"
    assert run.exit_code == RUN_TIMED_OUT
    assert gone(lines[0].strip())


async def test_a_run_whose_reader_goes_away_is_killed(serving: LocalRuntime) -> None:
    run = await serving.run(KEY, f"{PYTHON.name} sleeper.py", 60.0, detach=False)
    output = run.output()
    token = (await anext(output)).strip()
    assert not gone(token)
    await output.aclose()  # what the API does when the client disconnects or loses access
    await eventually(lambda: gone(token))


async def test_runs_are_numbered_and_a_detached_one_ends_with_the_runtime(
    serving: LocalRuntime, tmp_path: Path
) -> None:
    first, run = await asyncio.gather(
        serving.run(KEY, "echo one", 60.0, detach=True),
        serving.run(KEY, f"{PYTHON.name} sleeper.py", 60.0, detach=True),
    )
    assert (first.name, run.name) == ("run.1", "run.2")  # started together, numbered apart
    log = tmp_path / "data" / "logs" / "apps" / KEY / f"rel1.{run.name}.log"
    await eventually(lambda: log.exists() and log.read_text().strip() != "")
    token = log.read_text().split()[-1]
    assert not gone(token)

    async def first_ended() -> bool:  # ps shows a run while it runs
        return "run.1" not in {p.name for p in await serving.processes(KEY)}

    await eventually(first_ended)
    listed = {p.name: p for p in await serving.processes(KEY)}
    assert listed["run.2"].type == "run" and listed["run.2"].state == "up"
    assert listed["run.2"].version == 1 and listed["web.1"].type == "web"
    await serving.close()
    assert gone(token)
    assert [p.name for p in await serving.processes(KEY)] == []


async def test_nothing_runs_for_a_service_nothing_serves(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "data", NullEdge())
    with pytest.raises(Conflict, match="deploy it first"):
        await runtime.run("shop.none", "echo hi", 5.0, detach=False)


async def test_a_run_nobody_reads_is_still_killed_after_its_timeout(
    serving: LocalRuntime,
) -> None:
    marker = f"unread-{time.monotonic_ns()}"
    await serving.run(KEY, f"{PYTHON.name} sleeper.py {marker}", 0.5, detach=False)
    assert running_with(marker)
    await eventually(lambda: not running_with(marker), timeout=15)
    assert [p.type for p in await serving.processes(KEY)] == ["web"]  # ps forgot it too
