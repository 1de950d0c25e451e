"""What the log drains need from outside: storage, a target check, the service's identity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from skyforge.kernel.uow import UnitOfWork
from skyforge.logdrains.model import LogDrain, Target


@dataclass(frozen=True)
class ServiceRef:
    id: str
    project: str
    name: str
    key: str  # the runtime's key of the service


class LogDrainRepository(Protocol):
    async def add(self, drain: LogDrain) -> None: ...

    async def get(self, drain_id: str) -> LogDrain | None: ...

    async def of_service(self, service_id: str) -> list[LogDrain]: ...

    async def all(self) -> list[LogDrain]: ...

    async def delete(self, drain_id: str) -> None: ...

    async def claim(self, drain_id: str, owner: str, until: datetime, at: datetime) -> bool: ...

    async def record(self, drain: LogDrain, owner: str) -> bool: ...

    async def save_url(self, drain: LogDrain) -> None:
        """Store the drain's newly sealed URL (after a master key rotation)."""
        ...


class Cipher(Protocol):
    """Envelope encryption with the secrets' master keys (bootstrap adapts the vault)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...
    def open(self, sealed: bytes, binding: bytes) -> bytes: ...


class LogDrainsUnitOfWork(UnitOfWork, Protocol):
    @property
    def log_drains(self) -> LogDrainRepository: ...


CheckTarget = Callable[[Target], Awaitable[None]]  # raises Invalid when it must not be reached
FindService = Callable[[str, str], Awaitable[ServiceRef]]  # NotFound when there is none
Position = Callable[[str], Awaitable[str]]  # the runtime's cursor at the end of a key's output
