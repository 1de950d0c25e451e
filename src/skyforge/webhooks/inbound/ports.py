"""What inbound hooks need from outside: storage, a cipher, and the services they act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from skyforge.kernel.uow import UnitOfWork
from skyforge.webhooks.inbound.model import InboundHook, Preview


class InboundHookRepository(Protocol):
    async def add(self, hook: InboundHook) -> None: ...
    async def get(self, hook_id: str) -> InboundHook | None: ...
    async def of_service(self, service_id: str) -> list[InboundHook]: ...
    async def delete(self, hook_id: str) -> None: ...
    async def sealed(self) -> list[InboundHook]:
        """Every hook with a sealed secret (GitHub)."""
        ...

    async def reseal(self, hook_id: str, sealed: bytes) -> None: ...


class DeliveryRepository(Protocol):
    async def record(self, hook_id: str, delivery_id: str, event: str, at: datetime) -> bool:
        """Store the delivery id; False when it was stored already (a replay)."""
        ...

    async def forget(self, hook_id: str, delivery_id: str) -> None:
        """Drop a delivery that could not be acted on: the provider may redeliver it."""
        ...


class PreviewRepository(Protocol):
    async def add(self, preview: Preview) -> None: ...
    async def get(self, parent_service_id: str, number: int) -> Preview | None: ...
    async def of_parent(self, parent_service_id: str) -> list[Preview]: ...
    async def delete(self, service_id: str) -> None: ...


class InboundUnitOfWork(UnitOfWork, Protocol):
    @property
    def inbound_hooks(self) -> InboundHookRepository: ...
    @property
    def inbound_deliveries(self) -> DeliveryRepository: ...
    @property
    def previews(self) -> PreviewRepository: ...


class Cipher(Protocol):
    """Envelope encryption with the secrets' master keys (bootstrap adapts the vault)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...
    def open(self, sealed: bytes, binding: bytes) -> bytes: ...
    def key_id(self, sealed: bytes) -> str:
        """The master key the blob's data key is wrapped under."""
        ...


@dataclass(frozen=True)
class ServiceInfo:
    """What a hook needs to know of a service (from the services context)."""

    id: str
    project_id: str
    project: str
    name: str
    git_url: str
    branch: str
    config: dict[str, str] = field(default_factory=dict)


class Services(Protocol):
    """The services and deploys contexts, through their queries and commands (bootstrap)."""

    async def find(self, project: str, name: str) -> ServiceInfo:
        """NotFound when there is no such service."""
        ...

    async def by_id(self, service_id: str) -> ServiceInfo | None: ...

    def check_branch(self, branch: str) -> str:
        """The branch when git may fetch it (the services context's rule), else Invalid."""
        ...

    async def create_preview(
        self, parent: ServiceInfo, name: str, branch: str, *, fork: bool
    ) -> ServiceInfo:
        """A new service `name` beside `parent`, from its repository at `branch`, with its
        config vars; `fork`: it is kept from every secret."""
        ...

    async def delete(self, project: str, name: str) -> None: ...

    async def deploy(self, service: ServiceInfo, branch: str, commit: str) -> str:
        """Queue a deploy of `commit` from the service's repository; the deploy's id."""
        ...
