"""Secrets: named values kept only encrypted, in numbered versions, for a project or one service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from skyforge.kernel import envnames
from skyforge.kernel.errors import Invalid, SkyforgeError

MAX_VALUE_BYTES = 64 * 1024


class SecretUnreadable(SkyforgeError):
    """A stored value does not decrypt: its master key is missing or the row was tampered with."""

    status = 500
    title = "Secret unreadable"


def check_name(name: object) -> str:
    """Return name when it can be an environment variable name SkyForge lets apps receive."""
    if not isinstance(name, str) or not envnames.VALID.fullmatch(name):
        raise Invalid("a secret name must match [A-Za-z_][A-Za-z0-9_]* (at most 255 characters)")
    refused = envnames.refusal(name, "secret")  # the same rule as config vars
    if refused is not None:
        raise Invalid(refused)
    return name


def check_value(name: str, value: object) -> str:
    """Return value when it is a non-empty string of at most 64 KiB without NUL bytes."""
    if not isinstance(value, str) or not value:
        raise Invalid(f"the value of {name} must be a non-empty string")
    if "\x00" in value:
        raise Invalid(f"the value of {name} must not contain a NUL byte")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise Invalid(f"the value of {name} must be at most 64 KiB")
    return value


def binding(project_id: str, name: str, version: int) -> bytes:
    """The associated data a version is sealed with: a ciphertext moved to another row fails."""
    return f"skyforge-secret\x00{project_id}\x00{name}\x00{version}".encode()


@dataclass(frozen=True)
class Sealed:
    """A value under envelope encryption: only the key id is readable without a master key."""

    key_id: str  # the master key that wrapped the data key
    wrapped_key: bytes  # the data key, encrypted under the master key
    nonce: bytes
    ciphertext: bytes  # the value, encrypted under the data key


@dataclass(frozen=True)
class SecretVersion:
    secret_id: str
    project_id: str
    name: str
    version: int
    sealed: Sealed
    created_at: datetime

    @property
    def binding(self) -> bytes:
        return binding(self.project_id, self.name, self.version)


@dataclass
class Secret:
    """A named secret; a deleted one stays as a tombstone so version numbers are never reused."""

    id: str
    project_id: str
    project: str
    name: str
    service_id: str | None  # None: every service of the project sees it
    service: str | None
    version: int  # the newest version (also after a delete: the next one continues from it)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    versions: int = 0  # how many versions are kept

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def new_version(self, service_id: str | None, service: str | None, at: datetime) -> int:
        """Start the next version (in the given scope); returns its number."""
        if self.deleted:
            self.created_at, self.deleted_at, self.versions = at, None, 0
        self.service_id, self.service = service_id, service
        self.version += 1
        self.versions += 1
        self.updated_at = at
        return self.version

    def delete(self, at: datetime) -> None:
        self.deleted_at = self.updated_at = at
        self.versions = 0

    def visible_to(self, service_id: str) -> bool:
        return not self.deleted and self.service_id in (None, service_id)
