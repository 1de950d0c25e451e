"""Events of the secrets context. Names, scopes and versions only: never a value."""

from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class SecretChanged(Event):
    """A secret got a new version (set) or was deleted (version None)."""

    type: ClassVar[str] = "secret.changed"
    project: str
    name: str
    service: str | None  # None: every service of the project sees it
    version: int | None
    change: str  # created, updated or deleted


@dataclass(frozen=True)
class SecretRevealed(Event):
    type: ClassVar[str] = "secret.revealed"
    project: str
    name: str
    service: str | None
    version: int


@dataclass(frozen=True)
class MasterKeyRotated(Event):
    type: ClassVar[str] = "secret.key_rotated"
    key_id: str
    rewrapped: int
    retired: tuple[str, ...]
