"""The outbox relay: committed events leave the database for the event stream, in order.

Woken at once after a local commit, and polling for rows other replicas wrote. Every sink must
accept a row before it is marked published; a sink that fails stops the pass at that row (so a
subject's events never overtake each other) and the relay backs off and retries. A crash between
publishing and marking re-publishes: NATS drops the duplicate by its message id, consumers are
idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from skyforge.adapters.sql.outbox import SqlOutbox
from skyforge.kernel.stream import Envelope

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where envelopes go: publishes in order, returns how many (a prefix) were accepted."""

    async def send(self, envelopes: Sequence[Envelope]) -> int: ...


class OutboxRelay:
    def __init__(
        self,
        outbox: SqlOutbox,
        sinks: Sequence[Sink],
        *,
        poll: float = 0.5,
        batch: int = 100,
        max_backoff: float = 30.0,
        keep: timedelta = timedelta(days=7),
        prune_every: float = 600.0,
    ) -> None:
        self.outbox = outbox
        self.sinks = list(sinks)
        self._taken: list[set[str]] = [set() for _ in self.sinks]
        self.poll = poll
        self.batch = batch
        self.max_backoff = max_backoff
        self.keep = keep
        self.prune_every = prune_every
        self._wake = asyncio.Event()
        self._resume = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self.passes = 0  # for tests and metrics: completed passes

    def wake(self) -> None:
        """Relay now (a local transaction just committed events)."""
        self._wake.set()

    def resume(self) -> None:
        """A sink is back (NATS reconnected): end the backoff now."""
        self._resume.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop between (or in the middle of) passes; unmarked rows wait for the next relay."""
        task, self._task = self._task, None
        while task is not None and not task.done():
            # Again if need be: Python 3.11's wait_for (in drivers) can swallow a cancellation
            # that lands just as what it waits for completes.
            task.cancel()
            await asyncio.wait([task], timeout=0.1)
        if task is not None and not task.cancelled():
            with contextlib.suppress(Exception):
                task.result()

    async def _deliver(self, envelopes: Sequence[Envelope]) -> int:
        """Hand the envelopes to every sink; how many (a prefix) all of them took.

        A sink is not given again what it already took while another sink failed (the
        in-process consumers would run again each retry while Kafka is away, say): progress
        per sink is kept, as ids, until the row is marked. Ids, not a high-water mark: a row
        another replica commits late may sort before ones already taken.
        """
        done = len(envelopes)
        for sink, taken in zip(self.sinks, self._taken, strict=True):
            todo = [e for e in envelopes[:done] if e.id not in taken]
            try:
                count = await sink.send(todo) if todo else 0
            except Exception:
                log.exception("an event sink failed")
                count = 0
            taken.update(e.id for e in todo[:count])
            done = next((i for i, e in enumerate(envelopes[:done]) if e.id not in taken), done)
            if done == 0:
                break
        for taken in self._taken:
            taken.difference_update(e.id for e in envelopes[:done])  # marked now
            if len(taken) > 100_000:
                taken.clear()  # a sink away for very long: it gets those again (deduplicated)
        if done < len(envelopes):
            self._failures += 1
        else:
            self._failures = 0
        return done

    async def relay_once(self) -> int | None:
        """One pass (see SqlOutbox.relay_once): how many rows were read, None if locked out."""
        return await self.outbox.relay_once(self._deliver, self.batch)

    async def _run(self) -> None:
        last_prune = 0.0
        while True:
            read: int | None = 0
            self._wake.clear()  # before reading: a later commit is seen now or wakes us again
            try:
                read = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed")
                self._failures += 1
            self.passes += 1
            if self._failures:
                # The stream (or the database) is away: back off, ignoring commits meanwhile.
                self._resume.clear()
                await _wait(
                    self._resume, min(self.max_backoff, self.poll * 2 ** min(self._failures, 10))
                )
                continue
            if read == self.batch:
                continue  # more rows are waiting
            if time.monotonic() - last_prune > self.prune_every:
                last_prune = time.monotonic()
                try:
                    await self.outbox.prune(self.keep)
                except Exception:
                    log.exception("pruning the outbox failed")
            await _wait(self._wake, self.poll)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until the event is set or the time is up (asyncio.timeout: it never eats a cancel)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
