"""The release phase: the Procfile's `release` command, run once before the rollout."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from skyforge.adapters.sandbox import Jail, SandboxUnavailable
from skyforge.kernel.logs import LogSink
from skyforge.kernel.masking import Masker
from skyforge.runtimes.base import AppRelease, RolloutFailed
from skyforge.runtimes.local.command import CommandNotFound, build_env, spawn_piped, to_argv
from skyforge.runtimes.local.logrelay import stamped
from skyforge.runtimes.local.proc import signal_group


async def run_release_command(
    app: AppRelease, log: LogSink, timeout: float, log_path: Path, jail: Jail
) -> None:
    """Run app.release_command to completion in `jail`, its lines to `log` and `log_path`."""
    if not app.release_command:
        return
    env = build_env(app, "release", None, None)
    try:
        argv = to_argv(app.release_command, env, app.slug_dir)
    except CommandNotFound as exc:
        raise RolloutFailed(f"release phase failed: {exc}") from exc
    try:
        argv = jail.command(argv, cwd=app.slug_dir, writable=[app.slug_dir])
        jail.own(app.slug_dir)
    except SandboxUnavailable as exc:
        raise RolloutFailed(f"release phase failed: {exc}") from exc
    except OSError as exc:
        raise RolloutFailed(f"release phase failed: cannot prepare the slug: {exc}") from exc
    log(f"-----> Running release command: {app.release_command}")
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # A pipe is fine here: the command is short-lived and dies with us anyway.
        process = await spawn_piped(argv, env, app.slug_dir)
    except OSError as exc:
        raise RolloutFailed(f"release phase failed: cannot start {argv[0]}: {exc}") from exc
    try:
        async with asyncio.timeout(timeout):
            await _stream(process, log, log_path, Masker(app.secret_values()))
            code = await process.wait()
    except BaseException as exc:  # timeout or cancellation: nothing of it may stay behind
        signal_group(process.pid, signal.SIGKILL)
        await asyncio.shield(process.wait())
        if isinstance(exc, TimeoutError):
            raise RolloutFailed(f"release phase timed out after {timeout:g}s") from exc
        raise
    signal_group(process.pid, signal.SIGKILL)  # children it left behind
    if code != 0:
        raise RolloutFailed(f"release phase failed with exit code {code}")


async def _stream(
    process: asyncio.subprocess.Process, log: LogSink, log_path: Path, mask: Masker
) -> None:
    """Each line, its secret values masked, to the log file and to `log`."""
    assert process.stdout is not None
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as file:

        def emit(raw: bytes) -> None:
            line = mask(raw.decode("utf-8", "surrogateescape"))
            file.write(stamped(line).encode("utf-8", "surrogateescape"))
            file.flush()
            log(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace").rstrip("\r"))

        pending = b""
        # read() rather than readline(): a line longer than the stream's limit must not fail.
        while chunk := await process.stdout.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line)
        if pending:
            emit(pending)
