"""The drain forwarder: each log drain's new output lines, sent in batches, at least once.

Per drain, in a loop: take (or renew) its lease, so only one replica forwards it; read what the
app wrote after the drain's cursor (the runtime's follow cursor, kept in the database); send it
as one batch; then save the cursor after the last line sent. A crash between sending and saving
sends that batch again (at least once); a failure keeps the cursor and backs off (1 s doubling
to 5 min). Memory stays bounded: a batch is at most BATCH_LINES lines and BATCH_BYTES bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from skyforge.adapters.logdrain.formats import Record
from skyforge.adapters.logdrain.senders import DrainFailed, Sender
from skyforge.kernel.clock import now
from skyforge.kernel.ids import new_id
from skyforge.logdrains.model import LogDrain, backoff_seconds
from skyforge.runtimes.base import LogLine, Runtime

log = logging.getLogger(__name__)

BATCH_LINES = 500
BATCH_BYTES = 256 << 10
BATCHES_PER_TURN = 20  # then the next drain gets its turn (and the lease is renewed)


class DrainStore(Protocol):
    """The drains' storage, each call its own transaction."""

    async def all(self) -> list[LogDrain]: ...

    async def claim(self, drain_id: str, owner: str, lease: float) -> bool: ...

    async def record(self, drain: LogDrain, owner: str) -> bool: ...

    async def release(self, owner: str) -> None: ...


KeyOf = Callable[[LogDrain], Awaitable[str | None]]  # the runtime's key of its service
VersionOf = Callable[[str], Awaitable[int | None]]  # release id -> number


class DrainForwarder:
    def __init__(
        self,
        store: DrainStore,
        runtime: Runtime,
        key_of: KeyOf,
        version_of: VersionOf,
        sender_for: Callable[[LogDrain], Sender],
        *,
        interval: float = 1.0,
        lease: float = 30.0,
    ) -> None:
        self.store, self.runtime = store, runtime
        self.key_of, self.version_of, self.sender_for = key_of, version_of, sender_for
        self.interval, self.lease = interval, lease
        self.owner = f"drains-{new_id()}"
        self._task: asyncio.Task[None] | None = None
        # drain id -> its sender (a drain's URL never changes: another URL is another drain)
        self._senders: dict[str, Sender] = {}
        self._versions: dict[str, int | None] = {}  # a release's number never changes
        self._held: dict[str, float] = {}  # drain id -> until when our lease runs (monotonic)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-drains")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sender in self._senders.values():
            with contextlib.suppress(Exception):
                await sender.aclose()
        self._senders.clear()
        self._held.clear()
        with contextlib.suppress(Exception):
            await self.store.release(self.owner)  # another replica may take over at once

    async def _run(self) -> None:
        while True:
            try:
                await self.turn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log drain forwarding failed; trying again")
            await asyncio.sleep(self.interval)

    async def turn(self) -> None:
        """Forward what is new for every due drain this replica can claim."""
        drains = await self.store.all()
        for gone in set(self._senders) - {d.id for d in drains}:
            await self._senders.pop(gone).aclose()
        due = [d for d in drains if d.next_attempt_at is None or d.next_attempt_at <= now()]
        for drain, outcome in zip(
            due,
            await asyncio.gather(*(self._forward(d) for d in due), return_exceptions=True),
            strict=True,
        ):
            if isinstance(outcome, Exception):
                log.warning("log drain %s: %r", drain.id, outcome)

    def _sender(self, drain: LogDrain) -> Sender:
        if drain.id not in self._senders:
            self._senders[drain.id] = self.sender_for(drain)
        return self._senders[drain.id]

    async def _forward(self, drain: LogDrain) -> None:
        if not await self._hold(drain.id):
            return  # another replica forwards it
        key = await self.key_of(drain)
        if key is None:
            return  # its service is being deleted
        if not drain.cursor:  # nothing was recorded yet: from now on
            drain.cursor = await self.runtime.log_position(key)
            await self.store.record(drain, self.owner)
            return
        for _ in range(BATCHES_PER_TURN):
            lines = await self._batch(key, drain.cursor)
            if not lines:
                return
            try:
                await self._sender(drain).send([await self._record(drain, line) for line in lines])
            except DrainFailed as exc:
                drain.failures += 1
                drain.last_error = str(exc)[:500]
                drain.next_attempt_at = now() + timedelta(seconds=backoff_seconds(drain.failures))
                await self.store.record(drain, self.owner)
                return
            drain.cursor = lines[-1].cursor
            drain.delivered += len(lines)
            drain.failures, drain.last_error, drain.next_attempt_at = 0, None, None
            if not await self.store.record(drain, self.owner):
                return  # the lease was lost (or the drain removed): stop here
            if len(lines) < BATCH_LINES:
                return

    async def _hold(self, drain_id: str) -> bool:
        """Our lease on the drain, renewed once half of it has passed (not on every turn)."""
        if self._held.get(drain_id, 0.0) - time.monotonic() > self.lease / 2:
            return True
        started = time.monotonic()
        if not await self.store.claim(drain_id, self.owner, self.lease):
            self._held.pop(drain_id, None)
            return False
        self._held[drain_id] = started + self.lease
        return True

    async def _batch(self, key: str, cursor: str) -> list[LogLine]:
        lines: list[LogLine] = []
        size = 0
        stream: Any = self.runtime.logs(key, follow=False, tail=0, cursor=cursor)
        try:
            async for line in stream:
                lines.append(line)
                size += len(line.line)
                if len(lines) >= BATCH_LINES or size >= BATCH_BYTES:
                    break
        finally:
            await stream.aclose()
        return lines

    async def _record(self, drain: LogDrain, line: LogLine) -> Record:
        version = None
        if line.release_id:
            if line.release_id not in self._versions:
                self._versions[line.release_id] = await self.version_of(line.release_id)
            version = self._versions[line.release_id]
        release = f"v{version}" if version is not None else line.release_id or "-"
        return Record(line.time, drain.project, drain.service, release, line.source, line.line)
