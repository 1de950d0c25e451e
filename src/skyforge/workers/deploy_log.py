"""Deploy output: lines buffered in memory, written to the database in small batches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.kernel.masking import Masker

MAX_LINE = 4000


class DeployLogWriter:
    """A LogSink for one deploy; readers stream the stored lines while it runs."""

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        deploy_id: str,
        interval: float = 0.2,
        masked: Iterable[str] = (),
    ) -> None:
        self._uow = uow
        self._masker = Masker(masked)
        self._deploy_id = deploy_id
        self._interval = interval
        self._pending: list[str] = []
        self._next_seq = 1
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    async def __aenter__(self) -> DeployLogWriter:
        async with self._uow() as uow:
            self._next_seq = await uow.deploy_logs.last_seq(self._deploy_id) + 1
        self._task = asyncio.create_task(self._flush_forever())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.shield(self.flush())

    def mask(self, values: Iterable[str]) -> None:
        """Replace these values by **** in every line from now on."""
        self._masker.add(values)

    def __call__(self, line: str) -> None:
        # Masked whole, before the line is split or cut: a value may span both.
        for part in self._masker(line).rstrip("\n").split("\n"):
            self._pending.append(part[:MAX_LINE])

    async def flush(self) -> None:
        """Store the pending lines. One flush at a time: readers follow the sequence numbers,
        so a later batch must never commit before an earlier one."""
        async with self._flushing:
            lines, self._pending = self._pending, []
            if not lines:
                return
            first, self._next_seq = self._next_seq, self._next_seq + len(lines)
            async with self._uow() as uow:
                await uow.deploy_logs.append(self._deploy_id, first, lines)
                await uow.commit()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
