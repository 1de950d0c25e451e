"""Master key rotation: every data key re-wrapped, every value readable, old keys retired."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from tests.conftest import TOKEN
from tests.integration.conftest import People

from skyforge.adapters.crypto.keyring import KeyringError, key_id
from skyforge.adapters.sql.tables import secret_versions
from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.config import Settings

P = "/api/v1/projects/shop"
ROTATE = "/api/v1/secrets/rotate-key"
VALUES = {"ONE": ["one-a", "one-b"], "TWO": ["two-a"], "THREE": ["three-a", "three-b", "three-c"]}


async def set_all(api: httpx.AsyncClient) -> None:
    if (await api.get(P)).status_code == 404:
        await api.post("/api/v1/projects", json={"name": "shop"})
    for name, values in VALUES.items():
        for value in values:
            response = await api.put(f"{P}/secrets/{name}", json={"value": value})
            assert response.status_code in (200, 201), response.text


async def all_readable(api: httpx.AsyncClient) -> None:
    for name, values in VALUES.items():
        for number, value in enumerate(values, start=1):
            got = await api.get(f"{P}/secrets/{name}/value", params={"version": number})
            assert got.json()["value"] == value, (name, number, got.text)


async def rows(platform: Platform) -> dict[tuple[str, int], Any]:
    async with platform.engine.connect() as conn:
        found = (await conn.execute(select(secret_versions))).all()
    return {(r.secret_id, r.version): r for r in found}


async def test_rotating_rewraps_every_data_key_keeps_values_and_retires_the_old_key(
    api: httpx.AsyncClient, platform: Platform, settings: Settings
) -> None:
    await set_all(api)
    before = await rows(platform)
    old_keys = {r.key_id for r in before.values()}

    rotated = await api.post(ROTATE)

    assert rotated.status_code == 200, rotated.text
    answer = rotated.json()
    after = await rows(platform)
    assert answer["rewrapped"] == len(before) == 6
    assert answer["retired"] == sorted(old_keys)
    assert {r.key_id for r in after.values()} == {answer["active_key_id"]}
    for at, row in after.items():
        assert row.wrapped_key != before[at].wrapped_key
        assert (row.ciphertext, row.nonce) == (before[at].ciphertext, before[at].nonce)
    await all_readable(api)
    keyring = json.loads((settings.data_dir / "master.keys").read_text())
    assert list(keyring["keys"]) == [answer["active_key_id"]]
    assert os.stat(settings.data_dir / "master.keys").st_mode & 0o777 == 0o600
    again = (await api.post(ROTATE)).json()
    assert again["active_key_id"] != answer["active_key_id"]
    await all_readable(api)


async def test_only_an_organization_admin_with_an_admin_token_may_rotate(people: People) -> None:
    await people.admin.post("/api/v1/projects", json={"name": "shop"})
    owner = await people.user("owner@example.com")
    await people.admin.post(f"{P}/members", json={"email": "owner@example.com", "role": "owner"})
    boss = await people.user("boss@example.com", org_role="admin")
    token = (await boss.post("/api/v1/tokens", json={"name": "ro", "scope": "read"})).json()

    assert (await owner.post(ROTATE)).status_code == 403
    assert (await people.client(token["token"]).post(ROTATE)).status_code == 403
    assert (await people.client().post(ROTATE)).status_code == 401
    assert (await boss.post(ROTATE)).status_code == 200


def b64key(seed: int) -> str:
    return base64.b64encode(bytes([seed]) * 32).decode()


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform(settings.model_copy(update=changes))
    try:
        await platform.start(background=False)
        transport = httpx.ASGITransport(app=create_app(platform))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://skyforge.test", headers=headers
        ) as client:
            yield client
    finally:
        await platform.stop()


async def test_a_key_from_the_environment_rotates_through_skyforge_master_key_new(
    settings: Settings, tmp_path: Path
) -> None:
    old, new = SecretStr(b64key(1)), SecretStr(b64key(2))
    env = {"data_dir": tmp_path / "env-keys"}
    async with serving(settings, **env, master_key=old) as api:
        await set_all(api)
        refused = await api.post(ROTATE)
        assert refused.status_code == 409
        assert "SKYFORGE_MASTER_KEY_NEW" in refused.json()["detail"]
    async with serving(settings, **env, master_key=old, master_key_new=new) as api:
        await all_readable(api)  # both keys read while every replica gets the new one
        rotated = (await api.post(ROTATE)).json()
        assert rotated["active_key_id"] == key_id(bytes([2]) * 32)
        assert rotated["retired"] == [key_id(bytes([1]) * 32)]  # the operator may drop it now
    async with serving(settings, **env, master_key=new) as api:
        await all_readable(api)
    assert not (tmp_path / "env-keys" / "master.keys").exists()
    with pytest.raises(KeyringError, match="every replica needs the same"):
        async with serving(settings, **env, master_key=old):
            pass


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
async def test_a_key_file_others_may_read_stops_skyforge_from_starting(
    settings: Settings, mode: int
) -> None:
    Platform(settings)  # creates the key file
    path = settings.data_dir / "master.keys"
    path.chmod(mode)
    with pytest.raises(KeyringError, match="chmod 600"):
        Platform(settings)


async def test_a_malformed_master_key_stops_skyforge_from_starting(settings: Settings) -> None:
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(KeyringError, match="32 bytes"):
            Platform(settings.model_copy(update={"master_key": SecretStr(bad)}))
    with pytest.raises(KeyringError, match="needs SKYFORGE_MASTER_KEY"):
        Platform(settings.model_copy(update={"master_key_new": SecretStr(b64key(3))}))
