"""Events of the domains context: a hostname was added, verified, failed or removed."""

from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class DomainAdded(Event):
    type: ClassVar[str] = "domain.added"
    project: str
    service: str
    hostname: str


@dataclass(frozen=True)
class DomainVerified(Event):
    type: ClassVar[str] = "domain.verified"
    project: str
    service: str
    hostname: str


@dataclass(frozen=True)
class DomainVerificationFailed(Event):
    type: ClassVar[str] = "domain.verification_failed"
    project: str
    service: str
    hostname: str
    reason: str


@dataclass(frozen=True)
class DomainRemoved(Event):
    type: ClassVar[str] = "domain.removed"
    project: str
    service: str
    hostname: str
