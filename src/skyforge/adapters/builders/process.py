"""Running one build step: a subprocess in its own process group, output streamed to a log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from skyforge.kernel.errors import StepFailed
from skyforge.kernel.logs import LogSink

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_LINE = 4000  # one log line; a minified bundle printed by a tool must not flood the log
TAIL_LINES = 20  # kept for the error message of a failing step

# Not secrets, but needed to reach registries where TLS is intercepted or a proxy is required.
PASS_THROUGH = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def mask_credentials(text: str) -> str:
    """Replace the `user:password@` part of any URL in text with `***@`."""
    return _USERINFO.sub("***@", text)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """An environment built from scratch: only pass-through variables plus `extra`.

    Built up rather than filtered down so the control plane's secrets (SKYFORGE_*, cloud
    credentials...) can never reach code that comes from a user's repository.
    """
    env = {name: os.environ[name] for name in PASS_THROUGH if name in os.environ}
    env.update({"PATH": BASE_PATH, "LANG": "C.UTF-8"})
    env.update(extra)
    return env


def kill_group(pid: int) -> None:
    """SIGKILL the whole process group led by pid (started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_step(
    argv: Sequence[str],
    *,
    what: str,
    log: LogSink,
    env: Mapping[str, str],
    timeout: float,
    cwd: Path | None = None,
) -> list[str]:
    """Run argv, stream its merged output to log line by line; return the last lines.

    Raises StepFailed("<what> failed: <last line>") on a non-zero exit or a timeout; kills the
    process group and re-raises when the awaiting task is cancelled.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise _failed(what, f"cannot start {argv[0]}: {exc.strerror or exc}", log) from None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    assert proc.stdout is not None
    pump = asyncio.create_task(_pump(proc.stdout, log, tail))
    try:
        async with asyncio.timeout(timeout):
            returncode = await proc.wait()
            # Leftover children (a daemon started by an install script) would hold the pipe open.
            kill_group(proc.pid)
            await pump
    except TimeoutError:
        kill_group(proc.pid)
        raise _failed(what, f"timed out after {timeout:g} s", log) from None
    finally:
        if proc.returncode is None:  # cancelled, or any other error while waiting
            kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
        if not pump.done():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    if returncode != 0:
        last = next((line for line in reversed(tail) if line.strip()), f"exit code {returncode}")
        raise _failed(what, last.strip(), log)
    return list(tail)


def _failed(what: str, reason: str, log: LogSink) -> StepFailed:
    message = mask_credentials(f"{what} failed: {reason}")
    log(f" !     {message}")
    return StepFailed(message)


async def _pump(stream: asyncio.StreamReader, log: LogSink, tail: deque[str]) -> None:
    """Forward complete lines as they come; progress bars redraw with '\\r', keep the last."""
    pending = b""
    while chunk := await stream.read(65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            _emit(raw, log, tail)
        if len(pending) > MAX_LINE * 4:  # a line without end: flush what we have
            _emit(pending, log, tail)
            pending = b""
    if pending:
        _emit(pending, log, tail)


def _emit(raw: bytes, log: LogSink, tail: deque[str]) -> None:
    text = raw.decode("utf-8", errors="replace").rstrip("\r").split("\r")[-1]
    line = mask_credentials(text[:MAX_LINE])
    if not line.strip():  # tools space their output with blank lines; the log needs none
        return
    tail.append(line)
    log(line)
