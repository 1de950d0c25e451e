"""App logs in the composition root: log drains (their handlers, storage and forwarder), their
URLs sealed under the secrets' master keys (kept by a rotation, resealed after it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.logdrain.senders import check, sender_for
from skyforge.adapters.netguard import NetworkPolicy
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.deploys import queries as deploy_queries
from skyforge.kernel.clock import now
from skyforge.kernel.errors import NotFound
from skyforge.logdrains import handlers
from skyforge.logdrains.commands import AddLogDrain, RemoveLogDrain
from skyforge.logdrains.model import LogDrain, Target
from skyforge.logdrains.ports import ServiceRef
from skyforge.runtimes.base import Runtime
from skyforge.secrets.ports import Vault
from skyforge.workers.drains import DrainForwarder


class SqlDrainStore:
    """The forwarder's storage: each call one short transaction."""

    def __init__(self, uow: Callable[[], SqlUnitOfWork]) -> None:
        self.uow = uow

    async def all(self) -> list[LogDrain]:
        async with self.uow() as uow:
            return await uow.log_drains.all()

    async def claim(self, drain_id: str, owner: str, lease: float) -> bool:
        at = now()
        async with self.uow() as uow:
            mine = await uow.log_drains.claim(drain_id, owner, at + timedelta(seconds=lease), at)
            await uow.commit()
        return mine

    async def record(self, drain: LogDrain, owner: str) -> bool:
        async with self.uow() as uow:
            saved = await uow.log_drains.record(drain, owner)
            await uow.commit()
        return saved

    async def release(self, owner: str) -> None:
        async with self.uow() as uow:
            await uow.log_drains.release(owner)
            await uow.commit()


class LogsWiring:
    """Built by Platform: log drain commands, and the forwarder that runs in the background."""

    def __init__(
        self,
        settings: Settings,
        uow: Callable[[], SqlUnitOfWork],
        runtime: Runtime,
        vault: Vault,
    ) -> None:
        self.uow = uow
        self.runtime = runtime
        self.blobs = SealedBytes(vault)
        self.policy = NetworkPolicy.of(
            settings.log_drain_allow_private, settings.webhook_allowed_networks
        )
        self.forwarder = DrainForwarder(
            SqlDrainStore(uow),
            runtime,
            self._key_of,
            self._version_of,
            lambda drain: sender_for(handlers.target_of(drain, self.blobs), self.policy),
        )

    def commands(self) -> dict[type, Callable[[Any], Any]]:
        return {
            AddLogDrain: lambda c: handlers.add_drain(
                c,
                self.uow(),
                self.find_service,
                self._check,
                self.runtime.log_position,
                self.blobs,
            ),
            RemoveLogDrain: lambda c: handlers.remove_drain(c, self.uow(), self.find_service),
        }

    def url_of(self, drain: LogDrain) -> str:
        """The drain's URL, opened: for callers the API lets see it (developers and above)."""
        return handlers.url_of(drain, self.blobs)

    # -- the secrets' master keys -------------------------------------------------------------

    async def key_ids_in_use(self) -> set[str]:
        """The master keys the sealed drain URLs need (a rotation must keep them)."""
        async with self.uow() as uow:
            found = await uow.log_drains.all()
        return {self.blobs.key_id(d.sealed_url) for d in found}

    async def reseal(self) -> int:
        """After a master key rotation: every drain URL under the new key."""
        return await handlers.reseal_urls(self.uow(), self.blobs)

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when drain URLs need a master key this instance lacks."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"log drain URLs are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have"
            )

    def start(self) -> None:
        self.forwarder.start()

    async def stop(self) -> None:
        await self.forwarder.stop()

    async def _check(self, target: Target) -> None:
        await check(target, self.policy)

    async def find_service(self, project: str, name: str) -> ServiceRef:
        async with self.uow() as uow:
            service = await uow.services.get(project, name)
        if service is None:
            raise NotFound(f"no service named {name!r} in project {project!r}")
        return ServiceRef(service.id, service.project, service.name, service.key)

    async def _key_of(self, drain: LogDrain) -> str | None:
        async with self.uow() as uow:
            service = await uow.services.by_id(drain.service_id)
        return None if service is None else service.key

    async def _version_of(self, release_id: str) -> int | None:
        return await deploy_queries.release_version(release_id, self.uow())
