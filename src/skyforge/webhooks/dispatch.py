"""The delivery worker: claims due deliveries from the database and attempts them.

The database is the queue: a delivery is claimed with a lease (so one replica sends it in the
normal case), its outcome stored with the next attempt's time, and a crashed worker's claims
expire and are taken again (at least once across restarts and replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from skyforge.kernel.clock import now
from skyforge.kernel.ids import new_id
from skyforge.webhooks import handlers
from skyforge.webhooks.model import Delivery
from skyforge.webhooks.ports import Sender

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        deps: handlers.Deps,
        sender: Sender,
        *,
        worker: str | None = None,
        concurrency: int = 8,
        poll: float = 1.0,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.deps, self.sender = deps, sender
        self.worker = worker or f"webhooks:{new_id()[-8:]}"
        self.concurrency, self.poll, self.lease = concurrency, poll, lease
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Look for due deliveries now (some were just queued)."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.create_task(self._forever(), name="webhook-deliveries")

    async def stop(self, grace: float = 2.0) -> None:
        """Stop claiming (between two queries, not in one); attempts in flight get `grace`
        seconds, then are cancelled (their lease expires: another worker sends them later)."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await self._loop
            self._loop = None
        running = list(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def run_due(self) -> int:
        """Claim what is due (up to the free slots) and start attempting it; how many."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        async with self.deps.uow() as uow:
            claimed = await uow.webhook_deliveries.claim_due(self.worker, now(), self.lease, free)
            await uow.commit()
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(claimed)

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            await handlers.attempt(delivery, self.worker, self.sender, self.deps)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)
        finally:
            self.wake()  # a slot is free

    async def _forever(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_due()
            except Exception:
                log.exception("claiming webhook deliveries failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):  # (3.11's wait_for can eat a cancel)
                    await self._wake.wait()
