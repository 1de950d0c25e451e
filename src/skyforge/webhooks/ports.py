"""What the webhooks context needs from outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from skyforge.kernel.uow import UnitOfWork
from skyforge.webhooks.model import Delivery, Webhook


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> None: ...
    async def get(self, project: str, webhook_id: str) -> Webhook | None: ...
    async def of_project(self, project: str) -> list[Webhook]:
        """A project's webhooks, oldest first."""
        ...

    async def all(self) -> list[Webhook]:
        """Every project's webhooks (a master key rotation re-seals their secrets)."""
        ...

    async def save(self, webhook: Webhook) -> None: ...
    async def remove(self, webhook_id: str) -> None:
        """Delete it and its deliveries."""
        ...


class DeliveryRepository(Protocol):
    async def add_once(self, delivery: Delivery) -> bool:
        """Insert unless the webhook has a delivery of that event already; inserted?"""
        ...

    async def get(self, webhook_id: str, delivery_id: str) -> Delivery | None: ...
    async def page(self, webhook_id: str, before: str | None, limit: int) -> list[Delivery]:
        """A webhook's deliveries, newest first, older than the `before` id when given."""
        ...

    async def claim_due(
        self, worker: str, at: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        """Pending deliveries due at `at` that no live worker holds, now held by `worker`."""
        ...

    async def finish(self, delivery: Delivery, worker: str) -> bool:
        """Store an attempt's outcome and let go of the delivery (when `worker` still holds
        it); stored?"""
        ...

    async def save(self, delivery: Delivery) -> None: ...


class WebhooksUnitOfWork(UnitOfWork, Protocol):
    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def webhook_deliveries(self) -> DeliveryRepository: ...


class Cipher(Protocol):
    """Envelope encryption with the secrets' master keys (bootstrap adapts the vault)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...
    def open(self, sealed: bytes, binding: bytes) -> bytes: ...


@dataclass(frozen=True)
class Response:
    """What became of one POST: an HTTP status, or an error saying why there was none."""

    status_code: int | None
    error: str | None = None


class Sender(Protocol):
    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Response:
        """POST once to a checked address (never raises for network trouble)."""
        ...


@dataclass(frozen=True)
class ProjectRef:
    id: str
    name: str


# Filled by bootstrap: the projects context's query (NotFound when absent), and the SSRF
# guard's check of a URL (Invalid saying why it is refused; the URL normalized when not).
FindProject = Callable[[str], Awaitable[ProjectRef]]
CheckTarget = Callable[[str], Awaitable[str]]
UnitOfWorkFactory = Callable[[], WebhooksUnitOfWork]
