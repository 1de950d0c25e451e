"""Is a new instance ready for traffic? An HTTP answer on its port, and no crash loop."""

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
        results = await asyncio.gather(*(answers_http(i.record.port or 0, path) for i in probing))
        answered = {i for i, ok in zip(probing, results, strict=True) if ok}
        pending = [i for i in pending if i not in answered]
        if not pending:
            return
        if time.monotonic() >= deadline:
            late = pending[0]
            what = f"GET {path}" if path else "HTTP"
            tail = "\n".join(late.last_lines())
            raise RolloutFailed(
                f"{late.label} did not answer {what} on port {late.record.port} "
                f"within {timeout:g}s: {tail}"
            )
        await asyncio.sleep(_INTERVAL)
