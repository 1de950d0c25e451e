"""SQLite connections that a cancelled task can never leave holding the database's write lock.

aiosqlite runs each call in a worker thread; a cancelled `await` does not stop the call, it only
stops waiting for it. Measured with the stock connection, a task cancelled inside a transaction
(a stop, a timeout, a cancelled deploy) had SQLAlchemy invalidate and close the connection while
a cursor of that transaction was still alive; SQLite's close then leaves the connection a
"zombie" that keeps the transaction, and the write lock, until that cursor is garbage collected:
every other writer waited out the busy timeout and failed. A call still running when the event
loop closed also reported to the closed loop (an error in the worker thread at shutdown).

So here a cancellation waits for the call in flight (statements take milliseconds; a lock wait
at most the busy timeout) before it goes on, and closing always rolls back first.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite

BUSY_TIMEOUT_SECONDS = 30.0


def _end(connection: sqlite3.Connection) -> None:
    """Roll back (SQLite aborts the statements of live cursors, so the lock goes), then close."""
    with contextlib.suppress(sqlite3.Error):
        connection.rollback()
    with contextlib.suppress(sqlite3.Error):
        connection.close()


class _Unawaited:
    """The waiter of a call nobody awaits: the worker thread reports every result to one."""

    def get_loop(self) -> _Unawaited:
        return self

    def call_soon_threadsafe(self, *_: Any) -> None:
        pass


class SqliteConnection(aiosqlite.Connection):
    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        future = asyncio.get_running_loop().create_future()
        self._tx.put_nowait((future, partial(fn, *args, **kwargs)))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            while not future.done():  # the call goes on in the thread: let it end first
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([future])
            if not future.cancelled():
                future.exception()  # seen: asyncio would log it as never retrieved
            raise

    async def close(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await self._execute(_end, connection)
        finally:
            self._connection = None
            self._stop_running()  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        """Close without waiting: SQLAlchemy's force close, when a graceful close was cancelled
        or a lost connection is garbage collected. A close already queued ends it first."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._tx.put_nowait((_Unawaited(), partial(_end, connection)))  # type: ignore[arg-type]
            self._stop_running()  # type: ignore[no-untyped-call]


def creator(path: str) -> Callable[[], Awaitable[SqliteConnection]]:
    """The `async_creator` of an engine on the SQLite file at `path`."""

    async def connect() -> SqliteConnection:
        connection = SqliteConnection(
            partial(sqlite3.connect, path, timeout=BUSY_TIMEOUT_SECONDS), iter_chunk_size=64
        )
        connection.daemon = True  # as SQLAlchemy makes aiosqlite's own: never blocks an exit
        await connection  # starts the thread and connects
        return connection

    return connect
