"""Keep one instance alive: notice its death (or its log relay's), restart it with exponential
backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from skyforge.runtimes.local.instance import Instance

POLL_INTERVAL = 0.3
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0  # up this long: the next crash is a new incident, backoff starts over

Restart = Callable[[Instance], Awaitable[None]]


async def supervise(instance: Instance, restart: Restart, died: Restart) -> None:
    """Poll `instance` until it is stopped; when it dies on its own, tell `died` at once (it
    must get no traffic meanwhile), wait and `restart` it."""
    backoff = FIRST_BACKOFF
    while not instance.stopping:
        await asyncio.sleep(POLL_INTERVAL)
        if instance.stopping or (instance.alive() and not instance.relay_lost()):
            continue
        if instance.alive():  # its relay died: its output would go nowhere
            await instance.end_for_relay()
        instance.exits += 1
        instance.kill_leftovers()
        await died(instance)
        if time.monotonic() - instance.started_at >= STABLE_AFTER:
            backoff = FIRST_BACKOFF
        code = instance.exit_code()
        status = "exited" if code is None else f"exited with code {code}"
        instance.note(f"{status}; restarting in {backoff:g}s")
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)
        if not instance.stopping:
            await restart(instance)
