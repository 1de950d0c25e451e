"""One build step: streamed output, timeouts and cancellation kill the whole process group."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from skyforge.adapters.builders.process import clean_env, mask_credentials, run_step
from skyforge.kernel.errors import StepFailed

# A shell that starts two grandchildren, records their pids, and waits for them.
FAMILY = 'sleep 60 & echo $! >> "$1"; sleep 60 & echo $! >> "$1"; echo started; wait'


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped by its (killed) parent is a zombie: dead for our purpose.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_dead(pids: list[int]) -> bool:
    for _ in range(50):
        if not any(alive(pid) for pid in pids):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_output_is_streamed_line_by_line_as_it_comes() -> None:
    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    await run_step(
        ["sh", "-c", "echo one; sleep 0.5; echo two >&2; printf 'no newline'"],
        what="demo",
        log=lambda line: seen.append((time.monotonic() - started, line)),
        env=clean_env({}),
        timeout=10,
    )
    assert [line for _, line in seen] == ["one", "two", "no newline"]
    assert seen[0][0] < 0.4 < seen[1][0]


async def test_a_failing_step_raises_with_its_last_line() -> None:
    lines: list[str] = []
    with pytest.raises(StepFailed, match=r"^demo failed: boom$"):
        await run_step(
            ["sh", "-c", "echo working; echo boom >&2; exit 3"],
            what="demo",
            log=lines.append,
            env=clean_env({}),
            timeout=10,
        )
    assert lines == ["working", "boom", " !     demo failed: boom"]


async def test_a_missing_program_fails_the_step() -> None:
    with pytest.raises(StepFailed, match="demo failed: cannot start /nonexistent/tool"):
        await run_step(
            ["/nonexistent/tool"], what="demo", log=lambda _: None, env=clean_env({}), timeout=5
        )


async def test_a_step_that_outlives_its_timeout_is_killed_with_its_children(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    with pytest.raises(StepFailed, match=r"demo failed: timed out after 0\.5 s"):
        await run_step(
            ["sh", "-c", FAMILY, "sh", str(pids)],
            what="demo",
            log=lambda _: None,
            env=clean_env({}),
            timeout=0.5,
        )
    children = [int(pid) for pid in pids.read_text().split()]
    assert len(children) == 2
    assert await wait_dead(children)


async def test_cancelling_a_step_kills_its_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = asyncio.Event()
    step = asyncio.create_task(
        run_step(
            ["sh", "-c", FAMILY, "sh", str(pids)],
            what="demo",
            log=lambda line: started.set() if line == "started" else None,
            env=clean_env({}),
            timeout=60,
        )
    )
    await asyncio.wait_for(started.wait(), 10)
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    assert await wait_dead([int(pid) for pid in pids.read_text().split()])


def test_the_step_environment_is_built_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFORGE_DATABASE_URL", "postgresql://u:pw@db/x")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    env = clean_env({"HOME": "/cache/home"})
    assert not [name for name in env if name.startswith("SKYFORGE_")]
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == "/cache/home"


def test_credentials_in_urls_are_masked() -> None:
    text = "fatal: unable to access 'https://bob:hunter2@git.example/x.git/': refused"
    assert (
        mask_credentials(text)
        == "fatal: unable to access 'https://***@git.example/x.git/': refused"
    )
    assert mask_credentials("see https://git.example/a@b") == "see https://git.example/a@b"
