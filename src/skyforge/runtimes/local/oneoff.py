"""One-off processes (`skyforge run`): a command in a release's environment and sandbox.

Like the release phase: split like a Procfile command (no shell), run in the service's jail
with the release's config vars and secrets, its output masked, to a log file of its own
(`<release_id>.run.<n>.log`, shown by `skyforge logs` as process run.N) and to the caller.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from skyforge.adapters.sandbox import Jail, SandboxUnavailable
from skyforge.kernel.errors import Conflict, Invalid
from skyforge.kernel.masking import Masker
from skyforge.runtimes.base import RUN_TIMED_OUT, AppRelease
from skyforge.runtimes.local.command import CommandNotFound, build_env, spawn_piped, to_argv
from skyforge.runtimes.local.logrelay import stamped
from skyforge.runtimes.local.proc import signal_group

_READ = 65536
_WATCHDOG_SLACK = 5.0  # seconds past the timeout before the watchdog kills a run


def next_index(directory: Path) -> int:
    """1 + the highest N of the service's `*.run.N.log` files (1 for the first run)."""
    numbers = [0]
    for path in directory.glob("*.run.*.log*"):
        parts = path.name.split(".")
        if len(parts) >= 4 and parts[1] == "run" and parts[2].isdigit():
            numbers.append(int(parts[2]))
    return max(numbers) + 1


class LocalOneOff:
    """A started one-off process; `output()` streams it (once) and reaps it."""

    def __init__(
        self, name: str, process: asyncio.subprocess.Process, log_path: Path, mask: Masker
    ) -> None:
        self.name = name
        self._process = process
        self._log_path = log_path
        self._mask = mask
        self._code: int | None = None
        self.timeout = 0.0
        self.started_at = time.time()
        self.on_end: Callable[[], None] | None = None  # called once it has ended
        self._read = False

    @property
    def exit_code(self) -> int | None:
        return self._code

    def expire(self) -> None:
        """Past its timeout: killed, whether or not its output is read (see start_one_off)."""
        if self._process.returncode is None:  # not yet reaped: its pid is still its own
            signal_group(self._process.pid, signal.SIGKILL)
        if not self._read and self.on_end is not None:
            self.on_end()  # output() never ran: nobody else says it ended

    async def output(self) -> AsyncIterator[str]:
        """Masked lines until the process exits or times out; whatever ends it, its whole
        process group is killed (nothing of a run outlives it)."""
        self._read = True
        stdout = self._process.stdout
        assert stdout is not None
        fd = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            with os.fdopen(fd, "ab") as file:

                def emit(raw: bytes) -> str:
                    line = self._mask(raw.decode("utf-8", "surrogateescape")).rstrip("\r")
                    file.write(stamped(line).encode("utf-8", "surrogateescape"))
                    file.flush()
                    return line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

                pending = b""
                try:
                    async with asyncio.timeout(self.timeout):
                        while chunk := await stdout.read(_READ):
                            pending += chunk
                            *lines, pending = pending.split(b"\n")
                            for raw in lines:
                                yield emit(raw) + "\n"
                        if pending:
                            yield emit(pending) + "\n"
                        self._code = await self._process.wait()
                except TimeoutError:
                    yield emit(f"skyforge: run timed out after {self.timeout:g} s".encode()) + "\n"
                    self._code = RUN_TIMED_OUT
        finally:
            signal_group(self._process.pid, signal.SIGKILL)  # children it left behind too
            try:
                await asyncio.shield(self._process.wait())
            finally:
                if self.on_end is not None:
                    self.on_end()


async def start_one_off(
    app: AppRelease, command: str, index: int, log_dir: Path, jail: Jail, timeout: float
) -> LocalOneOff:
    """Start `command` as run.`index` of `app`; Invalid for a command that cannot run."""
    name = f"run.{index}"
    env = build_env(app, "run", index, None)
    try:
        argv = to_argv(command, env, app.slug_dir)
    except CommandNotFound as exc:
        raise Invalid(str(exc)) from exc
    try:
        argv = jail.command(argv, cwd=app.slug_dir, writable=[app.slug_dir])
    except SandboxUnavailable as exc:
        raise Conflict(str(exc)) from exc
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = log_dir / f"{app.release_id}.{name}.log"
    # Made before anything awaits: the next run's next_index() sees this number taken.
    os.close(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    try:
        process = await spawn_piped(argv, env, app.slug_dir)
    except OSError as exc:
        raise Invalid(f"cannot start {argv[0]}: {exc}") from exc
    run = LocalOneOff(name, process, log_path, Masker(app.secret_values()))
    run.timeout = timeout
    # Its timeout holds even if nobody ever reads its output (a client gone before the first
    # byte): a moment after it, the group is killed whatever happened to the reader.
    asyncio.get_running_loop().call_later(timeout + _WATCHDOG_SLACK, run.expire)
    return run
