"""The databases context's Servers port over the provisioners, pg_dump backups and a store."""

from __future__ import annotations

import tempfile
from pathlib import Path

from skyforge.adapters.dbprovision.base import BackupStore, DatabaseBackups, Provisioner
from skyforge.databases.ports import BackupInfo
from skyforge.kernel.errors import Conflict

_SETTING = {"postgres": "SKYFORGE_POSTGRES_ADMIN_URL", "redis": "SKYFORGE_REDIS_ADMIN_URL"}
_LABEL = {"postgres": "PostgreSQL", "redis": "Redis"}


class EngineServers:
    """One registered server per engine; backups (PostgreSQL only) kept in `store`."""

    def __init__(
        self,
        provisioners: dict[str, Provisioner],
        backups: DatabaseBackups | None,
        store: BackupStore,
        work_dir: Path,
    ) -> None:
        self.provisioners = provisioners
        self.backups_tool = backups
        self.store = store
        self.work_dir = work_dir

    def check(self, engine: str) -> None:
        """Conflict when no server of this engine is registered."""
        if engine not in self.provisioners:
            raise Conflict(
                f"no {_LABEL.get(engine, engine)} server is registered: the operator sets "
                f"{_SETTING.get(engine, 'its admin URL')}"
            )

    def _provisioner(self, engine: str) -> Provisioner:
        self.check(engine)
        return self.provisioners[engine]

    def _tool(self) -> DatabaseBackups:
        if self.backups_tool is None:
            raise Conflict("backups are not available: no PostgreSQL server is registered")
        return self.backups_tool

    async def create(self, engine: str, resource: str) -> str:
        return (await self._provisioner(engine).create(resource)).url

    async def rotate(self, engine: str, resource: str) -> str:
        return (await self._provisioner(engine).rotate(resource)).url

    async def delete(self, engine: str, resource: str) -> None:
        await self._provisioner(engine).delete(resource)

    async def backup(self, resource: str) -> BackupInfo:
        tool = self._tool()
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as work:
            backup = await tool.backup(resource, Path(work))
            key = await self.store.put(backup)
        return await self._info(key)

    async def backups(self, resource: str) -> list[BackupInfo]:
        return [await self._info(key) for key in await self.store.list(resource)]

    async def _info(self, key: str) -> BackupInfo:
        # A remote store downloads into the temporary folder: no tenant dump is left behind.
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as work:
            found = await self.store.fetch(key, Path(work))
        return BackupInfo(key.partition("/")[2], found.size, found.sha256, found.created_at)

    async def restore(self, resource: str, backup: str, new_resource: str) -> str:
        tool = self._tool()
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as work:
            found = await self.store.fetch(f"{resource}/{backup}", Path(work))
            return (await tool.restore(found.path, new_resource, sha256=found.sha256)).url
