"""The secrets context in the composition root: its vault, its handlers, the ports it fills."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from skyforge.adapters.crypto.envelope import EnvelopeVault
from skyforge.adapters.crypto.keyring import KeyringError, open_keyring
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.deploys.ports import ServiceRef
from skyforge.kernel.errors import SkyforgeError, StepFailed
from skyforge.projects import queries as project_queries
from skyforge.secrets import handlers, queries
from skyforge.secrets.commands import DeleteSecret, RevealSecret, RotateMasterKey, SetSecret
from skyforge.secrets.events import MasterKeyRotated
from skyforge.secrets.ports import ProjectRef


class SecretsWiring:
    """Built by Platform: the vault over the configured master keys, and what it wires."""

    def __init__(self, settings: Settings, uow: Callable[[], SqlUnitOfWork]) -> None:
        key, new = settings.master_key, settings.master_key_new
        keyring = open_keyring(
            settings.data_dir.resolve(),
            key.get_secret_value() if key else None,
            new.get_secret_value() if new else None,
        )
        self.vault = EnvelopeVault(keyring)
        self.uow = uow
        self._rotating = asyncio.Lock()

    def commands(self) -> dict[type, Callable[[Any], Any]]:
        return {
            SetSecret: lambda c: handlers.set_secret(
                c, self.uow(), self.vault, self._find_project, self._service_id_of
            ),
            DeleteSecret: lambda c: handlers.delete_secret(c, self.uow()),
            RevealSecret: lambda c: handlers.reveal_secret(c, self.uow(), self.vault),
            RotateMasterKey: self._rotate,
        }

    async def _rotate(self, cmd: RotateMasterKey) -> MasterKeyRotated:
        async with self._rotating:  # one rotation at a time in this process
            return await handlers.rotate_master_key(cmd, self.uow, self.vault)

    async def check_keys(self) -> None:
        """Refuse to start when stored secrets need a master key this instance lacks."""
        missing = sorted(set(await queries.key_ids_in_use(self.uow())) - self.vault.key_ids())
        if missing:
            raise KeyringError(
                f"secrets in the database are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have: every replica needs the same "
                "SKYFORGE_MASTER_KEY (or the data dir's master.keys file)"
            )

    # -- deploys' ports ------------------------------------------------------------------------

    async def refs(self, service: ServiceRef) -> dict[str, int]:
        """NAME -> current version of the secrets the service sees."""
        return await queries.refs_of_service(service.project, service.id, self.uow())

    async def values(self, service: ServiceRef, refs: dict[str, int]) -> dict[str, str]:
        """The plaintext of a release's references; a missing or unreadable one fails the step."""
        if not refs:
            return {}
        try:
            return await queries.values_of(
                service.project, service.id, refs, self.uow(), self.vault
            )
        except SkyforgeError as exc:
            raise StepFailed(exc.detail) from exc

    # -- the secrets context's ports -----------------------------------------------------------

    async def _find_project(self, name: str) -> ProjectRef:
        project = await project_queries.get_project(name, self.uow())
        return ProjectRef(project.id, project.name)

    async def _service_id_of(self, project: str, name: str) -> str | None:
        async with self.uow() as uow:
            service = await uow.services.get(project, name)
        return None if service is None else service.id
