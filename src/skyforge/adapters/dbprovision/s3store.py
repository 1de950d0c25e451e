"""Backups kept in an S3-compatible bucket (AWS, MinIO, Ceph RGW, R2...) under `<prefix><key>`."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from skyforge.adapters.dbprovision.base import Backup
from skyforge.adapters.dbprovision.names import managed_name
from skyforge.adapters.dbprovision.store import is_backup_file, split_key
from skyforge.kernel.errors import BadGateway, Invalid, NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_P = ParamSpec("_P")
_T = TypeVar("_T")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]*/)*")
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BackupStore:
    """A BackupStore in a bucket: the sha256 in each object's metadata, checked on every fetch.

    The boto3 client is blocking, so every call runs in a thread. Credentials unset: boto3's
    own chain (environment, profile, instance role). Retention is the bucket's lifecycle rule.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "skyforge-backups/",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: S3Client | None = None,
    ) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if not _PREFIX.fullmatch(prefix) or ".." in prefix:
            raise Invalid(f"backup prefix {prefix[:80]!r} must be folder names ending in '/'")
        self.bucket = bucket
        self.prefix = prefix
        self._client: S3Client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                connect_timeout=10,
                read_timeout=120,
                retries={"max_attempts": 5, "mode": "standard"},
                # Path-style works on every S3-compatible server; AWS still accepts it.
                s3={"addressing_style": "path"},
            ),
        )

    def __repr__(self) -> str:  # never the client (it holds the credentials)
        return f"S3BackupStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_key(self, key: str) -> str:
        """The object's name in the bucket; Invalid for keys that are not ours."""
        database, file = split_key(key)
        return f"{self.prefix}{database}/{file}"

    async def put(self, backup: Backup) -> str:
        """Upload the backup (multipart when large), then remove the local file and sidecar."""
        key = f"{backup.database}/{backup.path.name}"
        name = self.object_key(key)
        if not _SHA256.fullmatch(backup.sha256):
            raise Invalid("a backup checksum must be 64 lowercase hexadecimal digits")
        metadata = {"sha256": backup.sha256, "created-at": backup.created_at.isoformat()}
        await self._call(
            self._client.upload_file,
            str(backup.path),
            self.bucket,
            name,
            ExtraArgs={"Metadata": metadata, "ContentType": "application/octet-stream"},
        )
        backup.path.unlink(missing_ok=True)
        backup.path.with_name(backup.path.name + ".sha256").unlink(missing_ok=True)
        return key

    async def list(self, database: str) -> list[str]:
        """The keys of the database's backups, oldest first (file names start with the time)."""
        folder = f"{self.prefix}{managed_name(database)}/"
        names = await self._call(self._names, folder)
        return [f"{database}/{name}" for name in sorted(names)]

    async def fetch(self, key: str, work_dir: Path) -> Backup:
        """Download into work_dir, refusing (Invalid) an object that does not match its sha256."""
        database, file = split_key(key)
        name = self.object_key(key)
        Path(work_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        return await self._call(self._download, name, Path(work_dir), database, file)

    async def delete(self, key: str) -> None:
        """Delete the object; nothing to do when it is already gone."""
        await self._call(self._client.delete_object, Bucket=self.bucket, Key=self.object_key(key))

    # -- in a thread -------------------------------------------------------------------------

    def _names(self, folder: str) -> builtins.list[str]:
        names: builtins.list[str] = []
        pages = self._client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=folder, Delimiter="/"):
            for item in page.get("Contents", []):
                name = item.get("Key", "")[len(folder) :]
                if is_backup_file(name):
                    names.append(name)
        return names

    def _download(self, name: str, work_dir: Path, database: str, file: str) -> Backup:
        # One GET: the body and the metadata it is checked against come from the same version.
        answer = self._client.get_object(Bucket=self.bucket, Key=name)
        body = answer["Body"]
        expected = answer.get("Metadata", {}).get("sha256", "")
        final = work_dir / file
        partial = work_dir / f".{file}.{uuid.uuid4().hex}.partial"
        digest, size = hashlib.sha256(), 0
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in body.iter_chunks(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            if not _SHA256.fullmatch(expected):
                raise Invalid(f"backup {file} has no sha256 in its metadata: refusing it")
            if not hmac.compare_digest(digest.hexdigest(), expected):
                raise Invalid(f"backup {file} does not match its checksum: refusing it")
            os.replace(partial, final)
        finally:
            body.close()
            partial.unlink(missing_ok=True)
        created_at = _created_at(answer.get("Metadata", {}), answer.get("LastModified"))
        return Backup(final, size, expected, created_at, database)

    async def _call(self, function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "?"))
            if code in _MISSING:
                raise NotFound("no backup under that key in the bucket") from None
            # The code and message name the problem; they never hold the secret key.
            message = str(error.get("Message", ""))[:200]
            raise BadGateway(f"the backup bucket answered {code}: {message}") from None
        except BotoCoreError as exc:
            raise BadGateway(f"the backup bucket is unreachable: {type(exc).__name__}") from None


def _created_at(metadata: dict[str, str], modified: datetime | None) -> datetime:
    try:
        return datetime.fromisoformat(metadata["created-at"])
    except (KeyError, ValueError):
        return modified if modified is not None else datetime.now(UTC)
