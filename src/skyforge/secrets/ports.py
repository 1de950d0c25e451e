"""What the secrets context needs from outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from skyforge.kernel.uow import UnitOfWork
from skyforge.secrets.model import Sealed, Secret, SecretVersion


class SecretRepository(Protocol):
    async def get(self, project: str, name: str, *, for_update: bool = False) -> Secret | None:
        """The secret by name, a deleted one (tombstone) included."""
        ...

    async def add(self, secret: Secret) -> None: ...
    async def save(self, secret: Secret) -> None: ...
    async def page(
        self, project: str, service_id: str | None, after: str | None, limit: int
    ) -> list[Secret]:
        """Live secrets in creation order (only those a service sees, when given)."""
        ...

    async def visible_to(self, project: str, service_id: str) -> list[Secret]: ...
    async def add_version(self, version: SecretVersion) -> None: ...
    async def version(self, secret_id: str, version: int) -> SecretVersion | None: ...
    async def versions(self, secret_id: str) -> list[SecretVersion]: ...
    async def delete_versions(self, secret_id: str) -> None: ...
    async def not_under(self, key_id: str, limit: int) -> list[SecretVersion]:
        """Versions whose data key is wrapped under another master key than key_id."""
        ...

    async def rewrap(self, version: SecretVersion) -> None:
        """Store a version's new key id and wrapped data key (the ciphertext stays)."""
        ...

    async def key_ids(self) -> dict[str, int]:
        """How many versions each master key wraps."""
        ...


class SecretsUnitOfWork(UnitOfWork, Protocol):
    @property
    def secrets(self) -> SecretRepository: ...


class Vault(Protocol):
    """Envelope encryption under master keys (implemented in adapters/crypto)."""

    def seal(self, plaintext: bytes, binding: bytes) -> Sealed:
        """Encrypt under a fresh data key, wrapped under the active master key."""
        ...

    def open(self, sealed: Sealed, binding: bytes) -> bytes:
        """Decrypt; raises SecretUnreadable when the key is unknown or the data was altered."""
        ...

    def rewrap(self, sealed: Sealed, binding: bytes) -> Sealed:
        """The same ciphertext with its data key wrapped under the active master key."""
        ...

    def active_key_id(self) -> str: ...

    def rotate(self) -> str:
        """Make a new master key the active one; its id. Conflict when none can be made."""
        ...

    def retire(self, in_use: set[str]) -> tuple[str, ...]:
        """Forget the master keys no version uses any more (not the active one); their ids."""
        ...


@dataclass(frozen=True)
class ProjectRef:
    id: str
    name: str


# Filled by bootstrap with the projects and services contexts' queries.
FindProject = Callable[[str], Awaitable[ProjectRef]]  # NotFound when absent
ServiceIdOf = Callable[[str, str], Awaitable[str | None]]  # (project, service) -> id or None
