"""NullRuntime: runs nothing, remembers what it was asked (for unit tests of the control plane)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from skyforge.kernel.errors import Conflict
from skyforge.kernel.logs import LogSink
from skyforge.runtimes.base import (
    AppRelease,
    LogLine,
    LogPage,
    LogQuery,
    ObservedApp,
    OneOff,
    ProcessInfo,
    RolloutFailed,
)


class NullOneOff:
    """A run that prints nothing and succeeds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.exit_code: int | None = None

    async def output(self) -> AsyncIterator[str]:
        self.exit_code = 0
        nothing: tuple[str, ...] = ()
        for line in nothing:
            yield line


class NullRuntime:
    """Every rollout succeeds at once (unless `fail_next` is set); observe() reports it healthy."""

    def __init__(self) -> None:
        self.rollouts: list[AppRelease] = []  # every rollout() call, in order
        self.release_phases: list[AppRelease] = []
        self.removed: list[str] = []
        self.restarts: list[tuple[AppRelease, str | None]] = []  # every restart() call
        self.runs: list[tuple[str, str]] = []  # (key, command) of every run() call
        self.apps: dict[str, AppRelease] = {}  # what "runs" now, by key
        self.fail_next: str | None = None  # the next rollout/release phase raises this
        self.started = False
        self.closed = False

    async def start(self) -> None:
        """Nothing to adopt."""
        self.started = True

    async def close(self) -> None:
        """Forget everything."""
        self.closed = True
        self.apps.clear()

    async def run_release_phase(self, app: AppRelease, log: LogSink, timeout: float) -> None:
        """Record the call; fail if asked to."""
        self.release_phases.append(app)
        self._maybe_fail()
        if app.release_command:
            log(f"-----> Running release command: {app.release_command}")

    async def rollout(
        self,
        app: AppRelease,
        log: LogSink,
        timeout: float,
        on_switched: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Record the call and make `app` the running release; fail if asked to."""
        self.rollouts.append(app)
        self._maybe_fail()
        self.apps[app.key] = app
        log(f"-----> Switched traffic to v{app.version}")
        if on_switched is not None:
            await on_switched()

    async def observe(self) -> dict[str, ObservedApp]:
        """What was rolled out, as if every instance ran and was healthy."""
        return {
            key: ObservedApp(
                key,
                app.release_id,
                {p.name: p.count for p in app.processes if p.name != "release" and p.count > 0},
                True,
            )
            for key, app in self.apps.items()
        }

    async def remove(self, key: str) -> None:
        """Forget the key."""
        self.removed.append(key)
        self.apps.pop(key, None)

    async def processes(self, key: str) -> list[ProcessInfo]:
        """One "up" instance per count of what was rolled out."""
        app = self.apps.get(key)
        if app is None:
            return []
        return [
            ProcessInfo(
                f"{p.name}.{n}", p.name, n, "up", 0, time.time(), app.release_id, app.version, None
            )
            for p in app.processes
            if p.name != "release"
            for n in range(1, p.count + 1)
        ]

    async def restart(
        self, app: AppRelease, log: LogSink, timeout: float, process: str | None = None
    ) -> None:
        """Record the call; fail if asked to."""
        self.restarts.append((app, process))
        self._maybe_fail()
        self.apps[app.key] = app
        log(f"-----> Restarted v{app.version}")

    async def run(self, key: str, command: str, timeout: float, *, detach: bool) -> OneOff:
        """Record the call: a run that prints nothing and exits 0."""
        if key not in self.apps:
            raise Conflict("the service has no running release: deploy it first")
        self.runs.append((key, command))
        return NullOneOff(f"run.{len(self.runs)}")

    async def logs(
        self,
        key: str,
        *,
        follow: bool,
        tail: int,
        cursor: str | None = None,
        query: LogQuery | None = None,
    ) -> AsyncIterator[LogLine]:
        """No output, ever."""
        nothing: tuple[LogLine, ...] = ()
        for line in nothing:
            yield line

    async def search_logs(self, key: str, query: LogQuery) -> LogPage:
        """Nothing ever matches: there is no output."""
        return LogPage([], None)

    async def log_position(self, key: str) -> str:
        return ""

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            message, self.fail_next = self.fail_next, None
            raise RolloutFailed(message)
