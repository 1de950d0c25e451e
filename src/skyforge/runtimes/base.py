"""The Runtime port: where a service's release actually runs (Dokku's "scheduler").

Every runtime (local, kubernetes, gitops, null) offers the same operations. The control plane
renders a release into an `AppRelease` (pure data, see render.py) and hands it to the runtime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from skyforge.kernel.logs import LogSink


@dataclass(frozen=True)
class ProcessType:
    """One process type of a release: its command and how many instances run."""

    name: str  # "web", "worker", ...
    command: str  # as written in the Procfile; "$PORT"/"${VAR}" expanded by the runtime
    count: int


@dataclass(frozen=True)
class AppRelease:
    """What should run for one service: the desired state the runtime converges to."""

    key: str  # stable identity of the service in the runtime: "{project}.{service}"
    hostnames: tuple[str, ...]  # routed to the web processes, e.g. ("web.shop.localhost",)
    release_id: str
    version: int  # release number within the service (v1, v2, ...)
    slug_dir: Path  # the immutable build artifact: the app's files, its venv/node_modules
    processes: tuple[ProcessType, ...]
    env: dict[str, str] = field(default_factory=dict)  # config vars (PORT is added per instance)
    health_check_path: str | None = None  # healthy: 2xx/3xx from GET this path (None: "/")
    release_command: str | None = None  # the Procfile's `release` process, run once per release
    # Which names of `env` hold secret values: those are masked out of the app's log lines.
    secret_names: frozenset[str] = frozenset()
    # The service's own resource limits (Limits' fields); the runtime's defaults for the rest.
    resources: dict[str, int] = field(default_factory=dict)
    # Seconds a new web instance may take to pass its health check; None: the runtime's default.
    boot_timeout: float | None = None

    def rollout_bound(self, timeout: float) -> float:
        """A rollout's bound `timeout`, stretched by a boot timeout of the service's own."""
        return timeout + (self.boot_timeout or 0)

    def secret_values(self) -> list[str]:
        """The values to mask out of this release's output."""
        return [self.env[name] for name in sorted(self.secret_names) if name in self.env]

    def process(self, name: str) -> ProcessType | None:
        return next((p for p in self.processes if p.name == name), None)


class Sealer(Protocol):
    """Seals what a runtime keeps on disk (envelope AES-GCM under the secrets' master keys):
    its records hold every config var and secret of the releases they describe."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...

    def open(self, sealed: bytes, binding: bytes) -> bytes:
        """The plaintext; raises (a SkyforgeError) when the data was altered or its key is gone."""
        ...

    def key_id(self, sealed: bytes) -> str:
        """The master key a blob is sealed under (kept by a rotation until resealed)."""
        ...


@dataclass(frozen=True)
class ObservedApp:
    """What a runtime sees running for one service."""

    key: str
    release_id: str | None  # the release serving traffic (None: nothing routed)
    counts: dict[str, int]  # live instances per process type of that release
    healthy: bool
    # Instances of that release that died and have not stayed up since (a crash loop).
    crashed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessInfo:
    """One instance of a service as the runtime sees it (`skyforge ps`)."""

    name: str  # "web.1"
    type: str
    index: int
    state: str  # starting, up, crashed (dead, being restarted), stopping
    restarts: int  # unexpected exits since it was first started
    started_at: float  # unix seconds of its current start
    release_id: str
    version: int
    port: int | None


class OneOff(Protocol):
    """A one-off process (`skyforge run`): its masked output, then its exit status."""

    name: str  # "run.3": its output is in the logs under this process name

    def output(self) -> AsyncIterator[str]:
        """Its output, a line at a time (each ends with a newline); ending it kills the run."""
        ...

    @property
    def exit_code(self) -> int | None:
        """Known once the output ended (RUN_TIMED_OUT when it ran out of time)."""
        ...


RUN_TIMED_OUT = 124  # the exit status of a run stopped by its timeout, as timeout(1) has it


@dataclass(frozen=True)
class LogLine:
    time: float  # unix seconds
    source: str  # "web.1", "worker.1", "release", "router"
    line: str
    release_id: str = field(default="", compare=False)
    # Opaque: where reading resumes after this line (a follow cursor, or a search page cursor).
    cursor: str = field(default="", compare=False)


@dataclass(frozen=True)
class LogQuery:
    """A search over a service's retained output; every given condition must hold."""

    since: float | None = None  # unix seconds, inclusive
    until: float | None = None  # unix seconds, inclusive
    text: str | None = None  # case-insensitive substring of the line
    release_id: str | None = None
    process: str | None = None  # "web" (every web instance), "web.1", "release"
    limit: int = 100
    after: str | None = None  # a LogPage.next_cursor: the page after it


@dataclass(frozen=True)
class LogPage:
    items: list[LogLine]  # in time order
    next_cursor: str | None  # None: nothing more matched when the page was read


class RolloutFailed(Exception):
    """The new release did not become healthy (or its release phase failed).

    The runtime has already stopped what it started for it: the previous release keeps serving.
    """


class Runtime(Protocol):
    async def start(self) -> None:
        """Prepare; adopt or cleanly replace whatever a previous control plane left running."""

    async def close(self) -> None:
        """Stop everything this runtime runs (the control plane is shutting down)."""

    async def run_release_phase(self, app: AppRelease, log: LogSink, timeout: float) -> None:
        """Run app.release_command once to completion; raise RolloutFailed when it fails."""

    async def rollout(
        self,
        app: AppRelease,
        log: LogSink,
        timeout: float,
        on_switched: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Make `app` the running release with zero downtime.

        Start the new instances, wait until every web instance is healthy, switch traffic
        (then await `on_switched`: from that moment the release serves), drain and stop the
        old ones. Also used when only the scale changed. On failure raise RolloutFailed and
        leave the previous release serving.
        """

    async def observe(self) -> dict[str, ObservedApp]:
        """What runs now, by AppRelease.key."""

    async def remove(self, key: str) -> None:
        """Stop and forget everything of one service (it was deleted)."""

    async def processes(self, key: str) -> list[ProcessInfo]:
        """Every instance of the service, by process type and index."""
        ...

    async def restart(
        self, app: AppRelease, log: LogSink, timeout: float, process: str | None = None
    ) -> None:
        """Replace the instances of `app` (of one process type, or all) with new ones, with
        zero downtime: the new ones serve before the old ones stop. RolloutFailed as rollout."""

    async def run(self, key: str, command: str, timeout: float, *, detach: bool) -> OneOff:
        """Start `command` (split like a Procfile command, no shell) once, in the environment
        and sandbox of the release serving `key`; Conflict when none serves. Detached, its
        output goes only to the logs and it ends by itself (or at `timeout`)."""
        ...

    def logs(
        self,
        key: str,
        *,
        follow: bool,
        tail: int,
        cursor: str | None = None,
        query: LogQuery | None = None,
    ) -> AsyncIterator[LogLine]:
        """The app's output (every process of the service), optionally followed live.

        With `cursor` (a LogLine.cursor it gave out), it resumes right after that line: no line
        lost, none repeated; `tail` is then ignored. With `query` (its since, until, text,
        release and process; not its paging), `tail` counts, and follow gives, only the lines
        matching it.
        """
        ...

    async def search_logs(self, key: str, query: LogQuery) -> LogPage:
        """Retained output lines matching `query`, oldest first, a page at a time."""
        ...

    async def log_position(self, key: str) -> str:
        """A cursor at the end of the output now: logs(cursor=it) gives what comes later."""
        ...
