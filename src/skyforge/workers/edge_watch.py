"""The edge router's watchdog: a dead Caddy is started again within about a second.

Every reconcile pass repairs the router too, but a pass can last as long as a rollout; this
loop only looks at the router's process (a read of /proc) and calls the same repair when it is
down, so a `kill -9` of Caddy costs every app about a second, whatever else is running. The
repair counts it (skyforge_edge_repairs_total{part="process"}); /readyz says "down" meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0


class EdgeWatch:
    def __init__(
        self,
        state: Callable[[], str | None],
        repair: Callable[[], Awaitable[object]],
        interval: float = WATCH_INTERVAL,
    ) -> None:
        self.state = state
        self.repair = repair
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="edge-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.state() != "down":
                continue
            try:
                await self.repair()  # under the router's lock: a reconcile pass may be at it too
            except Exception:  # tried again next time
                log.exception("restarting the edge router failed")
