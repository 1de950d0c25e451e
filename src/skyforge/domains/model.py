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
    """A custom hostname of a service; unique platform-wide."""

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

    def unconfirmed(self, reason: str) -> None:
        """The check could not be made (a timeout): nothing was learned, try again later."""
        if self.status is not Status.READY:
            self.status, self.reason = Status.PENDING, reason
