"""git push deploys and inbound provider hooks in the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.git.smart_http import GitRepos
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.deploys.commands import RequestDeploy
from skyforge.kernel.errors import NotFound
from skyforge.kernel.messages import Command
from skyforge.secrets.ports import Vault
from skyforge.services.commands import CreateService, DeleteService, SetConfigVars
from skyforge.services.events import ServiceDeleted
from skyforge.services.model import Service
from skyforge.services.source import validate_branch
from skyforge.webhooks.inbound import handlers
from skyforge.webhooks.inbound.commands import (
    CreateInboundHook,
    DeleteInboundHook,
    ReceiveDelivery,
)
from skyforge.webhooks.inbound.ports import ServiceInfo

Send = Callable[[Command], Awaitable[Any]]


def _info(s: Service) -> ServiceInfo:
    return ServiceInfo(
        s.id, s.project_id, s.project, s.name, s.source.url, s.source.branch, dict(s.config)
    )


class GitWiring:
    """Built by Platform: the bare repositories, and the inbound hooks' handlers and ports."""

    def __init__(
        self, settings: Settings, uow: Callable[[], SqlUnitOfWork], vault: Vault, send: Send
    ) -> None:
        self.repos = GitRepos(settings.data_dir.resolve() / "git")
        self.uow, self.send = uow, send
        self.vault, self.cipher = vault, SealedBytes(vault)
        self.services = _Services(uow, send)

    async def on_service_deleted(self, event: ServiceDeleted) -> None:
        """The pushed code goes with its service (as on Heroku)."""
        await self.repos.remove(event.project, event.service)

    async def key_ids_in_use(self) -> set[str]:
        """Master keys the sealed hook secrets need: kept by a rotation, checked at start."""
        return await handlers.key_ids_in_use(self.uow(), self.cipher)

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when hook secrets need a master key this instance lacks."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"inbound hook secrets are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have"
            )

    async def reseal(self) -> int:
        """After a rotation: hook secrets under the new key (the old one retires next time)."""
        return await handlers.reseal_secrets(self.uow(), self.cipher, self.vault.active_key_id())

    def commands(self) -> dict[type, Callable[[Any], Any]]:
        return {
            CreateInboundHook: lambda c: handlers.create_hook(
                c, self.uow(), self.services, self.cipher
            ),
            DeleteInboundHook: lambda c: handlers.delete_hook(c, self.uow(), self.services),
            ReceiveDelivery: lambda c: handlers.receive(c, self.uow(), self.services, self.cipher),
        }


class _Services:
    """The inbound hooks' Services port: the services context's queries, commands via the bus."""

    def __init__(self, uow: Callable[[], SqlUnitOfWork], send: Send) -> None:
        self.uow, self.send = uow, send

    async def find(self, project: str, name: str) -> ServiceInfo:
        async with self.uow() as uow:
            service = await uow.services.get(project, name)
        if service is None:
            raise NotFound(f"no service named {name!r} in project {project!r}")
        return _info(service)

    async def by_id(self, service_id: str) -> ServiceInfo | None:
        async with self.uow() as uow:
            service = await uow.services.by_id(service_id)
        return None if service is None else _info(service)

    def check_branch(self, branch: str) -> str:
        return validate_branch(branch)

    async def create_preview(
        self, parent: ServiceInfo, name: str, branch: str, *, fork: bool
    ) -> ServiceInfo:
        created: Service = await self.send(
            CreateService(
                parent.project,
                name,
                parent.git_url,
                branch,
                source_of=parent.name,
                withhold_secrets=fork,
            )
        )
        if parent.config:
            await self.send(SetConfigVars(parent.project, name, dict(parent.config)))
        return _info(created) if not parent.config else await self.find(parent.project, name)

    async def delete(self, project: str, name: str) -> None:
        await self.send(DeleteService(project, name))

    async def deploy(self, service: ServiceInfo, branch: str, commit: str) -> str:
        deploy = await self.send(
            RequestDeploy(
                service.project,
                service.name,
                source_url=service.git_url,
                source_branch=branch,
                source_commit=commit,
            )
        )
        return str(deploy.id)
