"""Commands (imperative, one handler) and events (past tense, any number of handlers)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class Event:
    # "deploy.succeeded": the type name in the outbox, on NATS and in webhooks.
    type: ClassVar[str] = "event"

    @property
    def subject(self) -> str:
        """The entity the event is about (used for per-subject ordering)."""
        return str(getattr(self, "project", "") or "-")

    @property
    def target(self) -> str:
        """What the event is about, most general first: "shop/web/<deploy id>"."""
        names = ("project", "service", "email", "name", "deploy_id", "token_id")
        parts = [str(getattr(self, n)) for n in names if getattr(self, n, None)]
        return "/".join(parts) or "-"

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
