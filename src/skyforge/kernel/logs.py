"""A sink for human-readable progress lines (build output, rollout steps)."""

from collections.abc import Callable

LogSink = Callable[[str], None]


def discard(_line: str) -> None:
    """A LogSink that drops every line."""
