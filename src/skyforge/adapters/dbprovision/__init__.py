"""Managed databases: tenant PostgreSQL databases and Redis users, backups and their store."""

from typing import TYPE_CHECKING

from skyforge.adapters.dbprovision.base import (
    Backup,
    BackupStore,
    Credentials,
    DatabaseBackups,
    Provisioner,
)
from skyforge.adapters.dbprovision.fake import FakeProvisioner
from skyforge.adapters.dbprovision.names import quote_ident, quote_literal
from skyforge.adapters.dbprovision.pgbackup import PostgresBackups
from skyforge.adapters.dbprovision.postgres import PostgresProvisioner
from skyforge.adapters.dbprovision.redis_acl import RedisProvisioner
from skyforge.adapters.dbprovision.s3store import S3BackupStore
from skyforge.adapters.dbprovision.store import LocalBackupStore

if TYPE_CHECKING:  # mypy, which runs on src/ only, checks every implementation against its port
    _provisioners: tuple[type[Provisioner], ...] = (
        PostgresProvisioner,
        RedisProvisioner,
        FakeProvisioner,
    )
    _backups: type[DatabaseBackups] = PostgresBackups
    _stores: tuple[type[BackupStore], ...] = (LocalBackupStore, S3BackupStore)

__all__ = [
    "Backup",
    "BackupStore",
    "Credentials",
    "DatabaseBackups",
    "FakeProvisioner",
    "LocalBackupStore",
    "PostgresBackups",
    "PostgresProvisioner",
    "Provisioner",
    "RedisProvisioner",
    "S3BackupStore",
    "quote_ident",
    "quote_literal",
]
