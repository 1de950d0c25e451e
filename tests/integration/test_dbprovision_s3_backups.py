"""The S3-compatible backup store, against a FAKE S3: moto's server mode on 127.0.0.1.

moto speaks the S3 wire protocol over real HTTP and the store talks to it through the real boto3
client, so signing, multipart uploads, metadata and paging are exercised; AWS, MinIO, Ceph RGW
and R2 themselves are not. Backups come from pg_dump on the real PostgreSQL, and the last test
goes through the API with the store chosen from the settings.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from tests.conftest import POSTGRES
from tests.integration.test_api_databases import (
    REDIS,
    attach,
    create,
    drop_server_objects,
    path,
    ready,
    rows,
    write,
)
from tests.integration.test_dbprovision_backups import backups, names, source

from skyforge.adapters.dbprovision import S3BackupStore
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.kernel.errors import Invalid, NotFound

__all__ = ["names", "source"]  # fixtures shared with the local store's tests

KEY_ID, SECRET = "fake-s3-key-id", "fake-s3-secret-key"


@pytest.fixture(scope="module")
def fake_s3() -> Iterator[str]:
    """The endpoint of a fake S3 server (moto) on a free port of 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture
def bucket(fake_s3: str) -> Iterator[str]:
    """A new bucket on the fake S3; its objects and itself are deleted afterwards."""
    name = f"sf-test-{uuid.uuid4().hex[:12]}"
    client = s3(fake_s3)
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)


def store_in(fake_s3: str, bucket: str, prefix: str = "skyforge-backups/") -> S3BackupStore:
    return S3BackupStore(
        bucket,
        prefix=prefix,
        endpoint_url=fake_s3,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )


async def test_the_s3_store_keeps_lists_fetches_and_deletes_backups(
    source: str, names: list[str], tmp_path: Path, fake_s3: str, bucket: str
) -> None:
    store = store_in(fake_s3, bucket)
    first = await backups().backup(source, tmp_path / "staging")
    second = await backups().backup(source, tmp_path / "staging")
    keys = [await store.put(first), await store.put(second)]
    assert await store.list(source) == keys and keys == sorted(keys)
    assert list((tmp_path / "staging").iterdir()) == []  # the store took the files over
    listed = s3(fake_s3).list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"skyforge-backups/{k}" for k in keys]
    head = s3(fake_s3).head_object(Bucket=bucket, Key=f"skyforge-backups/{keys[0]}")
    assert head["Metadata"]["sha256"] == first.sha256

    fetched = await store.fetch(keys[0], tmp_path / "work")
    assert (fetched.sha256, fetched.size, fetched.database) == (first.sha256, first.size, source)
    assert fetched.created_at == first.created_at
    assert fetched.path.parent == tmp_path / "work" and fetched.path.stat().st_size == first.size
    assert [p.name for p in (tmp_path / "work").iterdir()] == [fetched.path.name]  # no partial
    restored = await backups().restore(fetched.path, names[1], sha256=fetched.sha256)
    assert restored.database == names[1]

    await store.delete(keys[0])
    await store.delete(keys[0])  # already gone: nothing to do
    assert await store.list(source) == keys[1:]
    with pytest.raises(NotFound):
        await store.fetch(keys[0], tmp_path / "work")
    assert await store.list("sf_test_none") == []


async def test_an_s3_object_that_does_not_match_its_checksum_is_refused(
    source: str, tmp_path: Path, fake_s3: str, bucket: str
) -> None:
    store = store_in(fake_s3, bucket, prefix="")
    key = await store.put(await backups().backup(source, tmp_path / "staging"))
    client = s3(fake_s3)
    stored = client.get_object(Bucket=bucket, Key=key)
    body, metadata = bytearray(stored["Body"].read()), stored["Metadata"]
    body[len(body) // 2] ^= 0xFF  # tampered with in the bucket, the metadata left as it was
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body), Metadata=metadata)
    with pytest.raises(Invalid, match="does not match its checksum"):
        await store.fetch(key, tmp_path / "work")
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))  # and without a checksum
    with pytest.raises(Invalid, match="no sha256"):
        await store.fetch(key, tmp_path / "work")
    assert list((tmp_path / "work").iterdir()) == []  # nothing refused is left behind


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "sf_a/../../x.dump", "sf_a/.hidden.dump", "sf_a/x.txt", "sf_a", "/x.dump"],
)
async def test_the_s3_store_refuses_keys_that_are_not_backups(
    key: str, tmp_path: Path, fake_s3: str, bucket: str
) -> None:
    store = store_in(fake_s3, bucket)
    with pytest.raises(Invalid):
        await store.fetch(key, tmp_path)
    with pytest.raises(Invalid):
        await store.delete(key)


@pytest.mark.parametrize("prefix", ["../x/", "/abs/", "a/../b/", "a//b/"])
def test_the_s3_store_refuses_prefixes_that_climb(prefix: str) -> None:
    with pytest.raises(Invalid):
        S3BackupStore("b", prefix=prefix, access_key_id=KEY_ID, secret_access_key=SECRET)


def test_the_s3_store_does_not_show_its_credentials(fake_s3: str) -> None:
    store = store_in(fake_s3, "b")
    assert SECRET not in repr(store) and KEY_ID not in repr(store)


# -- through the API, the store chosen by the settings ---------------------------------------


@pytest.fixture
def settings(settings: Settings, fake_s3: str, bucket: str) -> Settings:
    """The shared settings with the real servers and backups in the fake S3 bucket."""
    return settings.model_copy(
        update={
            "postgres_admin_url": SecretStr(POSTGRES),
            "redis_admin_url": SecretStr(REDIS),
            "backup_interval_hours": 24.0,
            "backup_s3_bucket": bucket,
            "backup_s3_endpoint": fake_s3,
            "backup_s3_prefix": "tenant-dumps/",
            "backup_s3_access_key_id": SecretStr(KEY_ID),
            "backup_s3_secret_access_key": SecretStr(SECRET),
        }
    )


@pytest.fixture
async def project(api: httpx.AsyncClient, static_repo: Path) -> AsyncIterator[str]:
    """A project of a unique name with a service web; its server objects are dropped."""
    name = f"db{uuid.uuid4().hex[:10]}"
    assert (await api.post("/api/v1/projects", json={"name": name})).status_code == 201
    body = {"name": "web", "source": {"git": str(static_repo)}}
    assert (await api.post(f"/api/v1/projects/{name}/services", json=body)).status_code == 201
    try:
        yield name
    finally:
        await drop_server_objects(f"sf_{name}_")


async def test_an_api_backup_goes_to_the_bucket_and_restores_from_it(
    api: httpx.AsyncClient, project: str, platform: Platform, fake_s3: str, bucket: str
) -> None:
    assert isinstance(platform.databases.deps.servers.store, S3BackupStore)  # type: ignore[attr-defined]
    await create(api, project, "main", "postgres")
    await write(await attach(api, project, "main", service="web"), "kept")

    taken = await api.post(path(project, "/main/backups"))
    assert taken.status_code == 201, taken.text
    backup = taken.json()
    objects = s3(fake_s3).list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in objects] == [f"tenant-dumps/sf_{project}_main/{backup['id']}"]
    assert objects[0]["Size"] == backup["size"] > 0
    listed = (await api.get(path(project, "/main/backups"))).json()["items"]
    assert [(b["id"], b["sha256"]) for b in listed] == [(backup["id"], backup["sha256"])]

    body = {"backup": backup["id"], "into": "copy"}
    restored = await api.post(path(project, "/main/restore"), json=body)
    assert restored.status_code == 202, restored.text
    await ready(api, project, "copy")
    copy_url = await attach(api, project, "copy", service="web", **{"as": "COPY_URL"})
    assert await rows(copy_url) == ["kept"]
    work = platform.settings.data_dir.resolve() / "tmp"
    assert list(work.iterdir()) == []  # the downloads for listing and restoring are gone
