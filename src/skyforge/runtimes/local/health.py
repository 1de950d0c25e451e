"""Is a new instance ready for traffic? A 2xx/3xx answer on its port, from its own process.

Apps share the host's network: another tenant could bind an instance's port first (between
our choice of a free port and the app's bind, or while the instance restarts) and answer in its
place. So the port must be listened on by the instance's own uid, as /proc/net/tcp says."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from skyforge.kernel.logs import LogSink
from skyforge.runtimes.base import RolloutFailed
from skyforge.runtimes.local.instance import Instance

CRASH_LIMIT = 3
_ATTEMPT_TIMEOUT = 2.0
_INTERVAL = 0.2
PROGRESS_EVERY = 5.0  # seconds between the lines a waiting rollout logs


async def http_status(port: int, path: str, timeout: float = _ATTEMPT_TIMEOUT) -> int | None:
    """The status of GET `path` on 127.0.0.1:port; None when nothing answers HTTP there."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "User-Agent: skyforge-health\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return None
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return int(parts[1])


def passes(status: int | None) -> bool:
    """Only a success or a redirect is healthy: a 503 while it boots (or for good) is not."""
    return status is not None and 200 <= status < 400


def listening_uids(port: int) -> set[int]:
    """The uids of the sockets listening on TCP `port` (any address, IPv4 or IPv6)."""
    uids = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local address "0100007F:1F90", state "0A" is LISTEN, uid is the 8th field
            if (
                len(fields) > 7
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                uids.add(int(fields[7]))
    return uids


async def probe(instance: Instance, path: str | None) -> int | None:
    """The status its port answers GET `path` (default "/") with, None when nothing answers
    or the listener there is not its own."""
    port = instance.record.port or 0
    status = await http_status(port, path or "/")
    if status is None or (instance.uid is not None and listening_uids(port) != {instance.uid}):
        return None
    return status


async def serves(instance: Instance, path: str | None) -> bool:
    """It answers its health check (2xx/3xx from GET `path`) on its port, from its own uid."""
    return passes(await probe(instance, path))


def _crashed(instance: Instance) -> RolloutFailed:
    lines = "\n".join(instance.last_lines())
    return RolloutFailed(f"{instance.label} crashed {instance.exits} times: {lines}")


def _late(instance: Instance, path: str, status: int | None, timeout: float) -> RolloutFailed:
    port = instance.record.port
    tail = "\n".join(instance.last_lines())
    others = listening_uids(port or 0) - {instance.uid}
    if instance.uid is not None and others:
        tail = f"another process holds port {port}\n{tail}"
    if status is None:
        what = f"did not answer GET {path} on port {port}"
    else:
        what = f"answered {status} to GET {path} on port {port}, never 2xx/3xx,"
    return RolloutFailed(
        f"{instance.label} {what} within its boot timeout of {timeout:g} s: {tail}"
    )


def _waiting(instance: Instance, path: str, status: int | None) -> str:
    if status is None:
        return f"{instance.label} to listen on port {instance.record.port}"
    return f"{instance.label} to answer GET {path} with 2xx/3xx (it answered {status})"


async def wait_healthy(
    instances: Sequence[Instance],
    path: str | None,
    timeout: float,
    log: LogSink | None = None,
    progress_every: float = PROGRESS_EVERY,
) -> None:
    """Return once every web instance passes its health check (2xx/3xx from GET `path`, "/"
    by default); raise RolloutFailed on a crash loop or after `timeout` (the boot timeout).

    Instances that exit meanwhile are restarted by their supervisor; each exit counts. While
    it waits, `log` gets a line every `progress_every` seconds saying for what and how long.
    """
    path = path or "/"
    started = time.monotonic()
    deadline = started + timeout
    next_note = started + progress_every
    pending = [i for i in instances if i.record.type == "web" and i.record.port is not None]
    last: dict[Instance, int | None] = dict.fromkeys(pending)
    while True:
        for instance in instances:
            if instance.exits >= CRASH_LIMIT:
                raise _crashed(instance)
            if instance.stopping:  # the runtime is closing under us
                raise RolloutFailed(f"{instance.label} was stopped during the rollout")
        probing = [i for i in pending if i.alive()]  # a dead one's port may be anyone's now
        results = await asyncio.gather(*(probe(i, path) for i in probing))
        last.update(zip(probing, results, strict=True))
        pending = [i for i in pending if not passes(last[i])]
        if not pending:
            return
        now = time.monotonic()
        if now >= deadline:
            raise _late(pending[0], path, last[pending[0]], timeout)
        if log is not None and now >= next_note:
            waiting = ", ".join(_waiting(i, path, last[i]) for i in pending)
            log(f"-----> Waiting for {waiting} ({now - started:.0f} s of {timeout:g} s)")
            next_note += progress_every
        await asyncio.sleep(_INTERVAL)
