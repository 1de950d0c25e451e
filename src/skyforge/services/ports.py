"""What the services context needs from outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from skyforge.kernel.uow import UnitOfWork
from skyforge.services.model import Service


class ServiceRepository(Protocol):
    async def add(self, service: Service) -> None: ...
    async def get(self, project: str, name: str, *, for_update: bool = False) -> Service | None:
        """for_update: locked until the transaction ends (a read-compare-write)."""
        ...

    async def save(self, service: Service) -> None: ...
    async def delete(self, service: Service) -> None: ...
    async def page(self, project: str, after: str | None, limit: int) -> list[Service]: ...
    async def all(self) -> list[Service]: ...


class ServicesUnitOfWork(UnitOfWork, Protocol):
    @property
    def services(self) -> ServiceRepository: ...


@dataclass(frozen=True)
class ProjectRef:
    id: str
    name: str
    environment_id: str


class SourceGuard(Protocol):
    """Where a source may lead (bootstrap fills it with the operator's network policy and
    local source directories)."""

    async def check(self, url: str, org_admin: bool) -> None:
        """Raise Invalid when `url` (validated, without credentials) leads somewhere no one may
        build from (a refused address, the data dir), Forbidden when only an organization
        admin may (a local path outside the operator's directories)."""
        ...


class Cipher(Protocol):
    """Envelope encryption with the secrets' master keys (bootstrap adapts the vault)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...
    def open(self, sealed: bytes, binding: bytes) -> bytes: ...
    def key_id(self, sealed: bytes) -> str:
        """The master key the blob's data key is wrapped under."""
        ...


@dataclass(frozen=True)
class Sources:
    """What handlers need to accept a source: the guard, and the cipher for credentials."""

    guard: SourceGuard
    cipher: Cipher


# Filled by bootstrap with the projects context's query.
FindProject = Callable[[str], Awaitable[ProjectRef]]
# The process types of a service's current release (None: never released); from deploys.
ProcessTypesOf = Callable[[str], Awaitable[set[str] | None]]
# The config vars snapshot of a release (None: no such release); from deploys.
ReleaseConfigOf = Callable[[str], Awaitable[dict[str, str] | None]]
