"""NullRuntime: runs nothing, remembers what it was asked (for unit tests of the control plane)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from skyforge.kernel.logs import LogSink
from skyforge.runtimes.base import (
    AppRelease,
    LogLine,
    LogPage,
    LogQuery,
    ObservedApp,
    RolloutFailed,
)


class NullRuntime:
    """Every rollout succeeds at once (unless `fail_next` is set); observe() reports it healthy."""

    def __init__(self) -> None:
        self.rollouts: list[AppRelease] = []  # every rollout() call, in order
        self.release_phases: list[AppRelease] = []
        self.removed: list[str] = []
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
