"""The message bus: a command goes to one handler; the events it caused go to many."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from skyforge.kernel.messages import Command, Event

log = logging.getLogger(__name__)

CommandHandler = Callable[[Any], Awaitable[Any]]
EventHandler = Callable[[Any], Awaitable[None]]


class MessageBus:
    def __init__(
        self,
        commands: dict[type[Command], CommandHandler],
        events: dict[type[Event], list[EventHandler]] | None = None,
    ) -> None:
        self._commands = commands
        self._events = events or {}

    async def handle(self, command: Command) -> Any:
        """Run the command's handler; return its result."""
        handler = self._commands.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        return await handler(command)

    async def publish(self, events: list[Event]) -> None:
        """Hand committed events to their in-process handlers; one failing doesn't stop others."""
        for event in events:
            for handler in self._events.get(type(event), []):
                try:
                    await handler(event)
                except Exception:
                    log.exception("event handler failed", extra={"event": event.type})
