"""Is a new instance ready for traffic? An HTTP answer on its port, from its own process.

Apps share the host's network: another tenant could bind an instance's port first (between
our choice of a free port and the app's bind, or while the instance restarts) and answer in its
place. So the port must be listened on by the instance's own uid, as /proc/net/tcp says."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from skyforge.runtimes.base import RolloutFailed
from skyforge.runtimes.local.instance import Instance

CRASH_LIMIT = 3
_ATTEMPT_TIMEOUT = 2.0
_INTERVAL = 0.2


async def answers_http(port: int, path: str | None, timeout: float = _ATTEMPT_TIMEOUT) -> bool:
    """GET `path` (or "/") on 127.0.0.1:port: any answer counts without a path, < 400 with one."""
    request = (
        f"GET {path or '/'} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
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
        return False
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return False
    if path is None:
        return True
    return parts[1].isdigit() and int(parts[1]) < 400


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


async def serves(instance: Instance, path: str | None) -> bool:
    """It answers on its port (see answers_http), and the listener there is its own."""
    port = instance.record.port or 0
    if not await answers_http(port, path):
        return False
    return instance.uid is None or listening_uids(port) == {instance.uid}


def _crashed(instance: Instance) -> RolloutFailed:
    lines = "\n".join(instance.last_lines())
    return RolloutFailed(f"{instance.label} crashed {instance.exits} times: {lines}")


async def wait_healthy(instances: Sequence[Instance], path: str | None, timeout: float) -> None:
    """Return once every web instance answers; raise RolloutFailed on a crash loop or timeout.

    Instances that exit meanwhile are restarted by their supervisor; each exit counts.
    """
    deadline = time.monotonic() + timeout
    pending = [i for i in instances if i.record.type == "web" and i.record.port is not None]
    while True:
        for instance in instances:
            if instance.exits >= CRASH_LIMIT:
                raise _crashed(instance)
            if instance.stopping:  # the runtime is closing under us
                raise RolloutFailed(f"{instance.label} was stopped during the rollout")
        probing = [i for i in pending if i.alive()]  # a dead one's port may be anyone's now
        results = await asyncio.gather(*(serves(i, path) for i in probing))
        answered = {i for i, ok in zip(probing, results, strict=True) if ok}
        pending = [i for i in pending if i not in answered]
        if not pending:
            return
        if time.monotonic() >= deadline:
            late = pending[0]
            what = f"GET {path}" if path else "HTTP"
            tail = "\n".join(late.last_lines())
            others = listening_uids(late.record.port or 0) - {late.uid}
            if late.uid is not None and others:
                tail = f"another process holds port {late.record.port}\n{tail}"
            raise RolloutFailed(
                f"{late.label} did not answer {what} on port {late.record.port} "
                f"within {timeout:g}s: {tail}"
            )
        await asyncio.sleep(_INTERVAL)
