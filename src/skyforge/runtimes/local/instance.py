"""One instance of a process type: start it detached, tell whether it lives, stop its group."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from skyforge.adapters.sandbox import Jail, SandboxUnavailable
from skyforge.runtimes.base import AppRelease
from skyforge.runtimes.local.command import CommandNotFound, build_env, to_argv
from skyforge.runtimes.local.logfiles import tail_lines
from skyforge.runtimes.local.logrelay import LogBounds, stamped, start_relay
from skyforge.runtimes.local.proc import is_running, signal_group, start_time, wall_time
from skyforge.runtimes.local.registry import InstanceRecord

_KILL_WAIT = 5.0  # after SIGKILL; only a process stuck in the kernel takes longer
_RELAY_WAIT = 1.0  # after the group is gone, for the relay to copy what remains and exit


class StartFailed(Exception):
    """The instance's command could not be started at all (not found, no slug dir...)."""


def launch(
    app: AppRelease,
    process: str,
    index: int,
    port: int | None,
    log_path: Path,
    jail: Jail,
    bounds: LogBounds | None = None,
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """Start one instance in its own session and sandbox, its output masked to `log_path`.

    Returns the instance and its log relay. The output goes through a pipe to the relay (see
    logrelay.py), which masks the release's secret values; the relay is no child of the app's
    group, it outlives the control plane like the app does and exits when the pipe is closed.
    """
    definition = app.process(process)
    if definition is None:
        raise StartFailed(f"{process}.{index}: no such process type in v{app.version}")
    env = build_env(app, process, index, port)
    try:
        argv = to_argv(definition.command, env, app.slug_dir)
    except CommandNotFound as exc:
        raise StartFailed(f"{process}.{index}: {exc}") from exc
    try:
        argv = jail.command(argv, cwd=app.slug_dir, writable=[app.slug_dir], keep_running=True)
        jail.own(app.slug_dir)  # a slug built before it had a sandbox uid
    except SandboxUnavailable as exc:
        raise StartFailed(f"{process}.{index}: {exc}") from exc
    except OSError as exc:
        raise StartFailed(f"{process}.{index}: cannot prepare its slug: {exc}") from exc
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        relay, fd = start_relay(log_path, app.secret_values(), bounds)
    except OSError as exc:
        raise StartFailed(f"{process}.{index}: cannot start its log relay: {exc}") from exc
    try:
        popen = subprocess.Popen(
            argv,
            cwd=app.slug_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,  # own process group: signals reach its children, not ours
        )
    except OSError as exc:
        os.close(fd)
        relay.wait()  # EOF at once: nobody else holds the pipe
        raise StartFailed(f"{process}.{index}: cannot start {argv[0]}: {exc}") from exc
    os.close(fd)  # the relay sees EOF once the app (and its children) closed theirs
    return popen, relay


class Instance:
    """A running (or restarting) instance; `popen` is None when adopted from a previous run."""

    def __init__(
        self,
        record: InstanceRecord,
        popen: subprocess.Popen[bytes] | None = None,
        relay: subprocess.Popen[bytes] | None = None,
    ):
        self.record = record
        self.popen = popen
        # Our children relaying its output: the current one, and older ones still finishing.
        self.relays = [relay] if relay is not None else []
        self.relay = relay  # the current one (None when adopted: not our child)
        self.exits = 0  # unexpected exits, counted by the supervisor
        self.started_at = time.monotonic()
        # The same moment, as shown to users (`skyforge ps`): adopted, when it really started.
        adopted = wall_time(record.start_time) if popen is None and record.start_time else None
        self.started_wall = adopted or time.time()
        self.stopping = False
        self.routed = False  # in the edge's upstreams for its key...
        self.ready = True  # ...unless it died and has not answered again since its restart
        self.uid: int | None = None  # its sandbox's uid (None: no sandbox)
        self.watcher: asyncio.Task[None] | None = None
        self._stopper: asyncio.Future[None] | None = None

    @classmethod
    def spawn(
        cls,
        instance_id: str,
        app: AppRelease,
        process: str,
        index: int,
        port: int | None,
        log_path: Path,
        jail: Jail,
        bounds: LogBounds | None = None,
    ) -> Instance:
        """Start a new instance."""
        popen, relay = launch(app, process, index, port, log_path, jail, bounds)
        record = InstanceRecord(
            id=instance_id,
            app=app,
            type=process,
            index=index,
            port=port,
            pid=popen.pid,
            start_time=start_time(popen.pid) or 0,  # a fresh child is at worst a zombie: readable
            log_path=log_path,
        )
        instance = cls(record, popen, relay)
        instance.uid = jail.uid
        return instance

    @property
    def label(self) -> str:
        """ "web.1"."""
        return self.record.label

    @property
    def address(self) -> str:
        """Where the edge reaches it: "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self.record.port}"

    def respawn(self, port: int | None, jail: Jail, bounds: LogBounds | None = None) -> None:
        """Start the same command again (after it died), as our own child."""
        self.record.port = port
        self.started_at = time.monotonic()  # also when it fails: a failed start is no stable run
        self.started_wall = time.time()
        record = self.record
        popen, relay = launch(
            record.app, record.type, record.index, port, record.log_path, jail, bounds
        )
        self.popen = popen
        self.uid = jail.uid
        self.relays.append(relay)
        self.relay = relay
        self.record.pid = popen.pid
        self.record.start_time = start_time(popen.pid) or 0

    def alive(self) -> bool:
        """Whether the process runs; reaps our own child (and relay) when it has exited."""
        self.relays = [relay for relay in self.relays if relay.poll() is None]
        if self.popen is not None and self.popen.pid == self.record.pid:
            return self.popen.poll() is None
        return is_running(self.record.pid, self.record.start_time)

    def relay_lost(self) -> bool:
        """Whether its log relay died (killed, crashed) while it runs: its output goes nowhere.

        A relay that exited 0 saw EOF: the app closed its own output, which is its choice."""
        code = self.relay.poll() if self.relay is not None else None
        return code is not None and code != 0

    async def end_for_relay(self, grace: float = 5.0) -> None:
        """SIGTERM the group (SIGKILL after `grace`): the supervisor then starts it again with
        a new relay, as after a crash."""
        self.note("its log relay exited; restarting it so that its output is kept")
        signal_group(self.record.pid, signal.SIGTERM)
        await self._wait_exit(grace, 0.05)
        self.kill_leftovers()

    def exit_code(self) -> int | None:
        """The exit status of a dead child of ours (None when adopted or still running)."""
        return self.popen.returncode if self.popen is not None else None

    def kill_leftovers(self) -> None:
        """After the leader died: SIGKILL what else of its group remains (no orphans)."""
        signal_group(self.record.pid, signal.SIGKILL)

    def note(self, text: str) -> None:
        """Append a line of ours to the instance's log, where its user will look."""
        try:
            with open(self.record.log_path, "a", encoding="utf-8") as handle:
                handle.write(stamped(f"skyforge[{self.label}]: {text}"))
        except OSError:
            pass

    def last_lines(self, count: int = 10) -> list[str]:
        """The end of the instance's log."""
        try:
            return tail_lines(self.record.log_path, count)[0]
        except OSError:
            return []

    async def stop(self, grace: float) -> None:
        """SIGTERM the group, SIGKILL it after `grace`; safe to call twice, survives cancel."""
        if self._stopper is None:
            self.stopping = True
            self._stopper = asyncio.ensure_future(self._terminate(grace))
        await asyncio.shield(self._stopper)

    async def _terminate(self, grace: float) -> None:
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()
            await asyncio.wait([self.watcher])
        if not self.alive():
            return  # its group was already killed when the supervisor saw it die
        signal_group(self.record.pid, signal.SIGTERM)
        await self._wait_exit(grace, 0.05)
        # Also reaches children that outlived a leader which exited on SIGTERM.
        signal_group(self.record.pid, signal.SIGKILL)
        await self._wait_exit(_KILL_WAIT, 0.02)
        await self._wait_relay()

    async def _wait_relay(self) -> None:
        """Let our relay write the last lines and exit (EOF once the group is gone); reap it."""
        deadline = time.monotonic() + _RELAY_WAIT
        while any(relay.poll() is None for relay in self.relays):
            if time.monotonic() >= deadline:
                return  # a process of another session still holds the pipe: it ends with it
            await asyncio.sleep(0.01)

    async def _wait_exit(self, seconds: float, interval: float) -> None:
        # Polling: an adopted process is not our child, nothing would tell us of its exit.
        deadline = time.monotonic() + seconds
        while True:
            if not self.alive() or time.monotonic() >= deadline:
                return
            await asyncio.sleep(interval)
