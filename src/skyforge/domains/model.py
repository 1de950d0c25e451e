"""Custom domains: a hostname attached to one service once its owner proves control of it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting for the user to publish the token (or for it to be checked)
    READY = "ready"  # verified: the edge routes it
    FAILED = "failed"  # the last check found no or another token; verifying again may succeed


@dataclass
class Domain:
    """A project's claim of a custom hostname for one of its services.

    Projects may claim a hostname at the same time; the first to prove control of it gets it
    (ready, routed), the other claims fail then. At most one claim per project."""

    id: str
    project_id: str
    project: str
    service_id: str
    service: str
    hostname: str  # normalized ASCII (A-labels), possibly "*.example.com"
    token: str
    redirect_https: bool
    status: Status
    reason: str | None
    created_at: datetime
    verified_at: datetime | None = None

    @property
    def wildcard(self) -> bool:
        return self.hostname.startswith("*.")

    def verified(self, at: datetime, detail: str) -> None:
        self.status, self.reason, self.verified_at = Status.READY, detail, at

    def failed(self, reason: str) -> None:
        if self.status is not Status.READY:  # a ready domain stays routed until removed
            self.status, self.reason = Status.FAILED, reason

    def lost(self) -> None:
        """Another project's claim of the hostname was verified first."""
        if self.status is not Status.READY:
            self.status = Status.FAILED
            self.reason = f"{self.hostname} was verified by another project: it is already in use"

    def unconfirmed(self, reason: str) -> None:
        """The check could not be made (a timeout): nothing was learned, try again later."""
        if self.status is not Status.READY:
            self.status, self.reason = Status.PENDING, reason
