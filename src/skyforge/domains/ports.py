"""What the domains context needs from outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from skyforge.domains.model import Domain
from skyforge.domains.verification import OwnershipVerifier
from skyforge.kernel.uow import UnitOfWork


class DomainRepository(Protocol):
    async def claims(self, hostname: str, *, for_update: bool = False) -> list[Domain]:
        """Every project's claim of this (normalized) hostname, oldest first."""
        ...

    async def add(self, domain: Domain) -> None:
        """Insert; Conflict when the project claims the hostname already (also concurrently)."""
        ...

    async def save(self, domain: Domain) -> None:
        """Conflict when it would make a second ready claim of its hostname."""
        ...

    async def remove(self, domain_id: str) -> None: ...
    async def of_service(self, service_id: str) -> list[Domain]: ...
    async def all(self) -> list[Domain]: ...


class DomainsUnitOfWork(UnitOfWork, Protocol):
    @property
    def domains(self) -> DomainRepository: ...


@dataclass(frozen=True)
class ServiceRef:
    id: str
    name: str
    project_id: str
    project: str


@dataclass(frozen=True)
class DomainRules:
    """The operator's settings that decide which hostnames may be attached."""

    platform_suffixes: tuple[str, ...]  # names the platform serves itself
    allow_wildcard: bool = False


@dataclass(frozen=True)
class Verifiers:
    """Tried in order: DNS (proves control of the zone), then HTTP (proves it points here)."""

    dns: OwnershipVerifier
    http: OwnershipVerifier


# Filled by bootstrap with the services context's query: NotFound when absent.
FindService = Callable[[str, str], Awaitable[ServiceRef]]
