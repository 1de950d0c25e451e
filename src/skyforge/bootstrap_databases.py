"""Wiring of the databases context: servers, the sealed URLs, its jobs and scheduled backups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from skyforge.adapters.crypto.blobs import KeepingKeys, SealedBytes
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.dbprovision import (
    LocalBackupStore,
    PostgresBackups,
    PostgresProvisioner,
    Provisioner,
    RedisProvisioner,
    S3BackupStore,
)
from skyforge.adapters.dbprovision.base import BackupStore
from skyforge.adapters.dbprovision.servers import EngineServers
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.databases import handlers, queries
from skyforge.databases.commands import (
    AttachDatabase,
    BackUpDatabase,
    CreateDatabase,
    DeleteDatabase,
    DetachDatabase,
    RestoreDatabase,
    RotateDatabase,
)
from skyforge.databases.ports import BACKUP_JOB, PROVISION_JOB, ProjectRef, Servers
from skyforge.kernel.clock import now
from skyforge.kernel.messages import Command
from skyforge.projects import queries as project_queries
from skyforge.secrets import handlers as secret_handlers
from skyforge.secrets.commands import DeleteSecret, RotateMasterKey, SetSecret
from skyforge.secrets.events import MasterKeyRotated
from skyforge.secrets.ports import Vault

log = logging.getLogger(__name__)


def servers_of(settings: Settings) -> EngineServers:
    """The servers the operator registered (none: creating that engine is refused)."""
    provisioners: dict[str, Provisioner] = {}
    backups = None
    if settings.postgres_admin_url is not None:
        postgres = PostgresProvisioner(settings.postgres_admin_url.get_secret_value())
        provisioners["postgres"] = postgres
        backups = PostgresBackups(settings.postgres_admin_url.get_secret_value(), postgres)
    if settings.redis_admin_url is not None:
        provisioners["redis"] = RedisProvisioner(settings.redis_admin_url.get_secret_value())
    data = settings.data_dir.resolve()
    return EngineServers(provisioners, backups, backup_store_of(settings), data / "tmp")


def backup_store_of(settings: Settings) -> BackupStore:
    """The configured bucket, else a folder of the data dir."""
    if not settings.backup_s3_bucket:
        return LocalBackupStore(settings.data_dir.resolve() / "backups")
    key_id, secret = settings.backup_s3_access_key_id, settings.backup_s3_secret_access_key
    return S3BackupStore(
        settings.backup_s3_bucket,
        prefix=settings.backup_s3_prefix,
        endpoint_url=settings.backup_s3_endpoint or None,
        region=settings.backup_s3_region,
        access_key_id=key_id.get_secret_value() if key_id else None,
        secret_access_key=secret.get_secret_value() if secret else None,
    )


class DatabasesWiring:
    """Built by Platform: the use cases' dependencies, job handlers and the backup schedule."""

    def __init__(
        self,
        settings: Settings,
        uow: Callable[[], SqlUnitOfWork],
        vault: Vault,
        send: Callable[[Command], Awaitable[Any]],
        wake_jobs: Callable[[], None],
    ) -> None:
        self.uow = uow
        self.send = send
        self.wake_jobs = wake_jobs
        self.interval = timedelta(hours=settings.backup_interval_hours)
        self.deps = handlers.Deps(
            uow=uow,
            servers=servers_of(settings),
            cipher=SealedBytes(vault),
            find_project=self._find_project,
            service_exists=self._service_exists,
            set_secret=lambda p, var, value, s: send(SetSecret(p, var, value, s)),
            unset_secret=lambda p, var: send(DeleteSecret(p, var)),
        )
        self.vault = vault
        self.check_every = 300.0
        self._rotating = asyncio.Lock()
        # Other stored blobs sealed under the master keys (webhook secrets): the keys they
        # need survive a rotation, and they are re-sealed after it.
        self.other_keys: list[Callable[[], Awaitable[set[str]]]] = []
        self.after_rotation: list[Callable[[], Awaitable[Any]]] = []
        self._schedule: asyncio.Task[None] | None = None

    def use(self, servers: Servers) -> None:
        """Swap the servers (tests use fakes)."""
        self.deps.servers = servers

    def commands(self) -> dict[type, Callable[[Any], Any]]:
        d = self.deps
        return {
            CreateDatabase: lambda c: handlers.create_database(c, d),
            DeleteDatabase: lambda c: handlers.delete_database(c, d),
            AttachDatabase: lambda c: handlers.attach_database(c, d),
            DetachDatabase: lambda c: handlers.detach_database(c, d),
            BackUpDatabase: lambda c: handlers.back_up_database(c, d),
            RestoreDatabase: lambda c: handlers.restore_database(c, d),
            RotateDatabase: lambda c: handlers.rotate_database(c, d),
            # Replaces the secrets' own handler (bootstrap merges this dict after theirs).
            RotateMasterKey: self.rotate_master_key,
        }

    async def rotate_master_key(self, cmd: RotateMasterKey) -> MasterKeyRotated:
        """The secrets' rotation, keeping the keys stored URLs need; then re-seal the URLs."""
        async with self._rotating:
            keep = await queries.key_ids_in_use(self.uow(), self.deps.cipher)
            for more in self.other_keys:
                keep |= await more()
            vault = KeepingKeys(self.vault, keep)
            event = await secret_handlers.rotate_master_key(cmd, self.uow, vault)
            await handlers.reseal_credentials(self.deps)
            for reseal in self.after_rotation:
                await reseal()
        return event

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when stored URLs need a master key this instance lacks."""
        missing = sorted(await queries.key_ids_in_use(self.uow(), self.deps.cipher) - held)
        if missing:
            raise KeyringError(
                f"database credentials are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have"
            )

    def jobs(self) -> dict[str, Any]:
        return {PROVISION_JOB: _ProvisionJob(self.deps), BACKUP_JOB: _BackupJob(self.deps)}

    # -- scheduled backups ---------------------------------------------------------------------

    def start(self) -> None:
        if self.interval > timedelta(0):
            self._schedule = asyncio.create_task(self._backups_forever(), name="db-backups")

    async def stop(self) -> None:
        if self._schedule is not None:
            self._schedule.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._schedule

    async def queue_due_backups(self) -> int:
        """Queue a backup job for every database whose newest backup is too old; how many."""
        due = await queries.due_for_backup(self.uow(), self.deps.servers, now(), self.interval)
        if not due:
            return 0
        async with self.uow() as uow:
            for db in due:
                await uow.jobs.enqueue(BACKUP_JOB, db.id, f"database:{db.id}")
            await uow.commit()
        self.wake_jobs()
        return len(due)

    async def _backups_forever(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)  # not at start: let the API come up first
            try:
                await self.queue_due_backups()
            except Exception:
                log.exception("queueing scheduled backups failed")

    # -- the databases context's ports -----------------------------------------------------------

    async def _find_project(self, name: str) -> ProjectRef:
        project = await project_queries.get_project(name, self.uow())
        return ProjectRef(project.id, project.name)

    async def _service_exists(self, project: str, name: str) -> bool:
        async with self.uow() as uow:
            return await uow.services.get(project, name) is not None


class _ProvisionJob:
    def __init__(self, deps: handlers.Deps) -> None:
        self.deps = deps

    async def run(self, subject_id: str) -> None:
        await handlers.provision(subject_id, self.deps)

    async def should_cancel(self, subject_id: str) -> bool:
        return False


class _BackupJob:
    def __init__(self, deps: handlers.Deps) -> None:
        self.deps = deps

    async def run(self, subject_id: str) -> None:
        async with self.deps.uow() as uow:
            db = await uow.databases.by_id(subject_id)
        if db is not None and db.ready:
            await handlers.back_up(db, self.deps)

    async def should_cancel(self, subject_id: str) -> bool:
        return False
