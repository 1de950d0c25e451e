"""LocalRuntime: supervised processes on this host, routed through the edge router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

from skyforge.adapters.sandbox import Jail, Sandbox, sandbox_of
from skyforge.edge.base import EdgeRouter, Route
from skyforge.kernel.errors import Conflict
from skyforge.kernel.ids import new_id
from skyforge.kernel.limits import Limits
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
    Sealer,
)
from skyforge.runtimes.local.health import PROGRESS_EVERY, serves, wait_healthy
from skyforge.runtimes.local.instance import Instance, StartFailed
from skyforge.runtimes.local.logfiles import search
from skyforge.runtimes.local.logfollow import decode_follow, end_cursor, read_logs
from skyforge.runtimes.local.logrelay import LogBounds
from skyforge.runtimes.local.oneoff import next_index, start_one_off
from skyforge.runtimes.local.ports import PortAllocator
from skyforge.runtimes.local.proc import is_running
from skyforge.runtimes.local.registry import InstanceRecord, Registry
from skyforge.runtimes.local.release_phase import run_release_command
from skyforge.runtimes.local.supervisor import STABLE_AFTER, supervise

logger = logging.getLogger(__name__)
_RECHECK = 0.2  # how often a restarted instance is asked whether it serves again


def _desired(app: AppRelease) -> dict[str, int]:
    return {p.name: p.count for p in app.processes if p.name != "release" and p.count > 0}


class LocalRuntime:
    """Runs each instance as a detached process group, supervised, recorded on disk.

    `sealer` seals the on-disk records, which hold every config var and secret value
    (default: the data dir's own key file).
    `drain_seconds`: time between switching traffic away from instances and stopping them.
    `stop_grace`: time between SIGTERM and SIGKILL. `health_timeout`: the longest a rollout
    waits for its web instances unless the app sets its own `boot_timeout` (the rollout's own
    `timeout` applies when it is shorter); a line every `progress_every` seconds says so.
    Every process runs in `sandbox` (default: the data dir's) under `limits`, with the app's
    own resource choices applied.
    """

    def __init__(
        self,
        data_dir: Path,
        edge: EdgeRouter,
        *,
        drain_seconds: float = 1.0,
        stop_grace: float = 10.0,
        health_timeout: float = 60.0,
        progress_every: float = PROGRESS_EVERY,
        log_bounds: LogBounds | None = None,
        sandbox: Sandbox | None = None,
        limits: Limits | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        self._edge = edge
        self._sandbox = sandbox_of(data_dir) if sandbox is None else sandbox
        self._limits = limits or Limits()
        self._log_bounds = log_bounds or LogBounds()
        self._drain = drain_seconds
        self._grace = stop_grace
        self._health_timeout = health_timeout
        self._progress_every = progress_every
        self._registry = Registry(data_dir / "run", sealer)  # records hold secrets: sealed
        self._logs_dir = data_dir / "logs" / "apps"
        self._ports = PortAllocator()
        self._instances: dict[str, Instance] = {}
        self._serving: dict[str, AppRelease] = {}  # the release routed, per key
        self._locks: dict[str, asyncio.Lock] = {}
        self._edge_lock = asyncio.Lock()  # edge calls are async: keep their order
        self._published_routes: list[Route] | None = None
        self._detached: set[asyncio.Task[None]] = set()  # one-off runs in the background
        self._runs: dict[str, dict[str, ProcessInfo]] = {}  # the one-off runs going on, per key

    async def start(self) -> None:
        """Adopt the instances a previous control plane left running; restart the dead ones."""
        problem = await asyncio.to_thread(self._sandbox.check)
        if problem is not None:
            logger.error("apps will not start: the sandbox cannot be set up: %s", problem)
        self._serving = self._registry.load_apps()
        stale: list[Instance] = []
        dead: list[Instance] = []
        for record in self._registry.load():
            instance = Instance(record)
            instance.uid = self._sandbox.uid(record.app.key)
            if not self._is_current(record):
                # Not (or no longer) part of a serving release: an interrupted rollout's.
                stale.append(instance)
                continue
            self._instances[record.id] = instance
            if is_running(record.pid, record.start_time):
                if record.port is not None:
                    self._ports.claim(record.port)
            else:
                dead.append(instance)
        for instance in dead:  # after every live port is claimed
            await self._restart(instance)
        for instance in self._instances.values():
            instance.routed = instance.record.type == "web"
            instance.watcher = asyncio.create_task(
                supervise(instance, self._restart, self._unroute)
            )
        await asyncio.gather(*(self._stop(i) for i in stale))
        await self._publish_routes(force=True)
        for key in self._serving:
            await self._publish_upstreams(key)

    async def close(self) -> None:
        """Stop every instance and forget them (nothing is left to adopt)."""
        for task in list(self._detached):
            task.cancel()
        await asyncio.gather(*self._detached, return_exceptions=True)
        await asyncio.shield(self._stop_all(list(self._instances.values())))
        self._registry.clear()
        self._serving.clear()

    async def run_release_phase(self, app: AppRelease, log: LogSink, timeout: float) -> None:
        """Run app.release_command once to completion; raise RolloutFailed when it fails."""
        log_path = self._logs_dir / app.key / f"{app.release_id}.release.log"
        await run_release_command(app, log, timeout, log_path, self._jail(app))

    async def rollout(
        self,
        app: AppRelease,
        log: LogSink,
        timeout: float,
        on_switched: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Start what `app` needs, wait for health, switch the edge (then `on_switched`),
        drain, stop the rest."""
        lock = self._locks.setdefault(app.key, asyncio.Lock())
        async with lock:
            await self._rollout(app, log, timeout, on_switched)

    async def observe(self) -> dict[str, ObservedApp]:
        """What runs now, by AppRelease.key."""
        observed = {}
        for key, app in self._serving.items():
            mine = [i for i in self._of(key) if i.record.app.release_id == app.release_id]
            live = Counter(i.record.type for i in mine if i.alive())
            healthy = live["web"] == _desired(app).get("web", 0)
            crashed = tuple(sorted(i.label for i in mine if _crash_looping(i)))
            observed[key] = ObservedApp(key, app.release_id, dict(live), healthy, crashed)
        return observed

    async def processes(self, key: str) -> list[ProcessInfo]:
        """Every instance of the service (those stopping too), by process type and index."""
        found = [i for i in self._instances.values() if i.record.app.key == key]
        found.sort(key=lambda i: (i.record.type, i.record.index, i.stopping))
        instances = [
            ProcessInfo(
                name=i.label,
                type=i.record.type,
                index=i.record.index,
                state=_state(i),
                restarts=i.exits,
                started_at=i.started_wall,
                release_id=i.record.app.release_id,
                version=i.record.app.version,
                port=i.record.port,
            )
            for i in found
        ]
        runs = sorted(self._runs.get(key, {}).values(), key=lambda p: p.index)
        return [*instances, *runs]

    async def restart(
        self, app: AppRelease, log: LogSink, timeout: float, process: str | None = None
    ) -> None:
        """A rollout of the same release that keeps none of the instances it replaces."""
        replace = frozenset(_desired(app)) if process is None else frozenset({process})
        async with self._locks.setdefault(app.key, asyncio.Lock()):
            await self._rollout(app, log, timeout, None, replace)

    async def run(self, key: str, command: str, timeout: float, *, detach: bool) -> OneOff:
        """Start `command` once in the serving release's environment and sandbox."""
        app = self._serving.get(key)
        if app is None:
            raise Conflict("the service has no running release: deploy it first")
        directory = self._logs_dir / key
        index = next_index(directory)
        run = await start_one_off(app, command, index, directory, self._jail(app), timeout)
        going = self._runs.setdefault(key, {})
        going[run.name] = ProcessInfo(
            name=run.name,
            type="run",
            index=index,
            state="up",
            restarts=0,
            started_at=run.started_at,
            release_id=app.release_id,
            version=app.version,
            port=None,
        )

        def ended() -> None:
            going.pop(run.name, None)

        run.on_end = ended
        if detach:
            task = asyncio.create_task(_drain(run))
            self._detached.add(task)
            task.add_done_callback(self._detached.discard)
        return run

    async def remove(self, key: str) -> None:
        """Stop and forget everything of one service."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            await asyncio.shield(self._stop_all(list(self._of(key))))
            self._serving.pop(key, None)
            self._registry.drop_app(key)
            await self._publish_routes()
            shutil.rmtree(self._logs_dir / key, ignore_errors=True)

    def logs(
        self,
        key: str,
        *,
        follow: bool,
        tail: int,
        cursor: str | None = None,
        query: LogQuery | None = None,
    ) -> AsyncIterator[LogLine]:
        """The output of every instance (and release phase) of the service's recent releases
        (with `query`: of every retained one, only the lines matching it).

        Not a generator itself: a bad cursor is refused here, before any output starts.
        """
        if cursor:
            decode_follow(cursor)
        return read_logs(self._logs_dir / key, follow=follow, tail=tail, cursor=cursor, query=query)

    async def search_logs(self, key: str, query: LogQuery) -> LogPage:
        """Retained output lines matching `query`, oldest first."""
        return await asyncio.to_thread(search, self._logs_dir / key, query)

    async def log_position(self, key: str) -> str:
        """A follow cursor at the end of every log file of the service now."""
        return await asyncio.to_thread(end_cursor, self._logs_dir / key)

    # -- rollout ----------------------------------------------------------------------------

    async def _rollout(
        self,
        app: AppRelease,
        log: LogSink,
        timeout: float,
        on_switched: Callable[[], Awaitable[None]] | None,
        replace: frozenset[str] = frozenset(),
    ) -> None:
        desired = _desired(app)
        current = list(self._of(app.key))
        keep = [
            i
            for i in current
            if i.record.app.release_id == app.release_id
            and i.record.index <= desired.get(i.record.type, 0)
            and i.record.type not in replace
        ]
        old = [i for i in current if i not in keep]
        have = {(i.record.type, i.record.index) for i in keep}
        started: list[Instance] = []
        try:
            for name, count in desired.items():
                for index in range(1, count + 1):
                    if (name, index) not in have:
                        started.append(self._launch(app, name, index, log))
            web = [i.label for i in started if i.record.type == "web"]
            boot = min(timeout, app.boot_timeout or self._health_timeout)
            if web:
                path = app.health_check_path or "/"
                log(
                    f"-----> Waiting for {', '.join(web)} to answer GET {path} with 2xx/3xx "
                    f"(boot timeout {boot:g} s)"
                )
            await wait_healthy(started, app.health_check_path, boot, log, self._progress_every)
        except BaseException as exc:  # failure or cancellation: undo what we started
            if started:
                log(f"-----> Stopping the {len(started)} new instance(s); nothing else changed")
            await asyncio.shield(self._stop_all(started))
            if isinstance(exc, StartFailed):
                raise RolloutFailed(str(exc)) from exc
            raise
        for instance in keep:
            instance.record.app = app  # same release, new scale
            self._registry.save(instance.record)
        # Shielded: once the edge is told, the rest must happen even if this task is cancelled.
        commit = asyncio.ensure_future(
            self._commit(app, keep, started, old, log, on_switched, bool(replace))
        )
        await asyncio.shield(commit)

    async def _commit(
        self,
        app: AppRelease,
        keep: list[Instance],
        started: list[Instance],
        old: list[Instance],
        log: LogSink,
        on_switched: Callable[[], Awaitable[None]] | None,
        restarted: bool = False,
    ) -> None:
        before = self._serving.get(app.key)
        self._set_serving(app.key, app, routed=[*keep, *started], unrouted=old)
        try:
            if restarted:
                await self._publish_upstreams(app.key)
                names = ", ".join(i.label for i in started) or "nothing"
                log(f"-----> Restarted {names} (v{app.version})")
            else:
                await self._switch(app, before, log, changed=bool(started or old))
        except Exception as exc:
            # We cannot know what the edge applied: point it back at what served before.
            self._set_serving(app.key, before, routed=[*keep, *old], unrouted=started)
            with contextlib.suppress(Exception):
                await self._publish_routes()
                await self._publish_upstreams(app.key)
            await self._stop_all(started)
            raise RolloutFailed(f"switching traffic failed: {exc!r}") from exc
        try:
            if on_switched is not None:
                await on_switched()  # the release serves from now on
        finally:
            if old:
                for instance in old:
                    instance.stopping = True  # a later rollout (a rollback) must not keep them
                await self._retire(old, any(i.record.type == "web" for i in old), log)

    def _set_serving(
        self,
        key: str,
        app: AppRelease | None,
        *,
        routed: list[Instance],
        unrouted: list[Instance],
    ) -> None:
        if app is None:
            self._serving.pop(key, None)
            self._registry.drop_app(key)
        else:
            self._serving[key] = app
            self._registry.save_app(app)
        for instance in routed:
            instance.routed = instance.record.type == "web"
        for instance in unrouted:
            instance.routed = False

    async def _switch(
        self, app: AppRelease, before: AppRelease | None, log: LogSink, *, changed: bool
    ) -> None:
        await self._publish_routes()
        await self._publish_upstreams(app.key)
        scale = ", ".join(f"{name}={count}" for name, count in _desired(app).items()) or "nothing"
        if before is None or before.release_id != app.release_id:
            log(f"-----> Switched traffic to v{app.version}")
        elif changed:
            log(f"-----> Scaled v{app.version} to {scale}")
        else:
            log(f"-----> v{app.version} already runs ({scale})")

    async def _retire(self, old: list[Instance], drain: bool, log: LogSink) -> None:
        if drain:
            # Requests already sent to the old instances must finish before we stop them.
            await asyncio.sleep(self._drain)
        names = ", ".join(f"{i.label} (v{i.record.app.version})" for i in old)
        log(f"-----> Stopping {names}")
        await self._stop_all(old)

    def _launch(self, app: AppRelease, process: str, index: int, log: LogSink) -> Instance:
        port = self._ports.allocate() if process == "web" else None
        log_path = self._logs_dir / app.key / f"{app.release_id}.{process}.{index}.log"
        try:
            instance = Instance.spawn(
                new_id(), app, process, index, port, log_path, self._jail(app), self._log_bounds
            )
        except StartFailed:
            self._ports.release(port)
            raise
        self._instances[instance.record.id] = instance
        self._registry.save(instance.record)
        instance.watcher = asyncio.create_task(supervise(instance, self._restart, self._unroute))
        where = f" on port {port}" if port is not None else ""
        log(f"-----> Starting {instance.label}{where} (v{app.version})")
        return instance

    # -- supervision ------------------------------------------------------------------------

    async def _restart(self, instance: Instance) -> None:
        """Start a dead instance again: same release, same port if it is still free.

        While it is down it gets no traffic (its port may be anyone's now); it is routed
        again once it serves on its port, from its own process."""
        await self._unroute(instance)
        before = instance.record.port
        port = None
        if before is not None:
            self._ports.release(before)
            port = self._ports.allocate(prefer=before)
        try:
            instance.respawn(port, self._jail(instance.record.app), self._log_bounds)
        except StartFailed as exc:
            instance.note(str(exc))  # the supervisor sees it dead and tries again later
        self._registry.save(instance.record)
        if instance.routed:
            await self._back_in_service(instance)

    async def _unroute(self, instance: Instance) -> None:
        """A dead instance gets no traffic: its port may be anyone's until it serves again."""
        if instance.routed and instance.ready:
            instance.ready = False
            await self._publish_upstreams(instance.record.app.key)

    async def _back_in_service(self, instance: Instance) -> None:
        """Route a restarted instance again as soon as it serves (checked while it lives)."""
        path = instance.record.app.health_check_path
        while instance.alive() and not instance.stopping:
            if await serves(instance, path):
                instance.ready = True
                await self._publish_upstreams(instance.record.app.key)
                return
            await asyncio.sleep(_RECHECK)

    async def _stop(self, instance: Instance) -> None:
        await instance.stop(self._grace)
        self._ports.release(instance.record.port)
        self._instances.pop(instance.record.id, None)
        self._registry.delete(instance.record.id)

    async def _stop_all(self, instances: Iterable[Instance]) -> None:
        await asyncio.gather(*(self._stop(i) for i in instances))

    # -- state ------------------------------------------------------------------------------

    def _jail(self, app: AppRelease) -> Jail:
        """The sandbox of the app's processes."""
        return self._sandbox.jail(app.key, self._limits.for_apps(app.resources))

    def _of(self, key: str) -> list[Instance]:
        """The instances of a key that are not on their way out."""
        return [i for i in self._instances.values() if i.record.app.key == key and not i.stopping]

    def _is_current(self, record: InstanceRecord) -> bool:
        serving = self._serving.get(record.app.key)
        return (
            serving is not None
            and serving.release_id == record.app.release_id
            and record.index <= _desired(serving).get(record.type, 0)
        )

    async def _publish_routes(self, *, force: bool = False) -> None:
        routes = [Route(key, app.hostnames) for key, app in sorted(self._serving.items())]
        async with self._edge_lock:
            # Every route change reloads the edge (NOTES.md): skip the ones that change nothing.
            if force or routes != self._published_routes:
                await self._edge.set_routes(routes)
                self._published_routes = routes

    async def _publish_upstreams(self, key: str) -> None:
        async with self._edge_lock:
            web = sorted(
                (i for i in self._of(key) if i.routed and i.ready and i.record.port is not None),
                key=lambda i: i.record.index,
            )
            await self._edge.set_upstreams(key, [i.address for i in web])


def _state(instance: Instance) -> str:
    """starting, up, crashed (died and has not stayed up since) or stopping."""
    if instance.stopping:
        return "stopping"
    if not instance.alive():
        return "crashed"
    if instance.record.type == "web" and not (instance.routed and instance.ready):
        return "starting"
    return "up"


def _crash_looping(instance: Instance) -> bool:
    """Dead, or back only for a moment after dying (the next crash keeps the backoff)."""
    if instance.stopping:
        return False
    recent = time.monotonic() - instance.started_at < STABLE_AFTER
    return not instance.alive() or (instance.exits > 0 and recent)


async def _drain(run: OneOff) -> None:
    """Read a detached run to its end: its output goes to its log file only."""
    async for _line in run.output():
        pass
