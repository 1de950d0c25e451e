"""The unit-of-work protocol: one command, one transaction, events collected on the way."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from skyforge.kernel.messages import Event


class UnitOfWork(Protocol):
    events: list[Event]

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Write the changes and the collected events (to the outbox) atomically."""

    def emit(self, event: Event) -> None:
        """Record an event; it is stored with the change and published after the commit."""
