"""A sink for human-readable progress lines (build output, rollout steps)."""

from collections.abc import Callable
from typing import Protocol

LogSink = Callable[[str], None]


class StoredLog(Protocol):
    """A LogSink whose lines are stored in batches; flush() stores what is pending now."""

    def __call__(self, line: str) -> None: ...

    async def flush(self) -> None: ...


def discard(_line: str) -> None:
    """A LogSink that drops every line."""
