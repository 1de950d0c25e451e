"""The Provisioner contract, on the fake and on the real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from tests.conftest import POSTGRES

from skyforge.adapters.dbprovision import (
    FakeProvisioner,
    PostgresProvisioner,
    Provisioner,
    RedisProvisioner,
)
from skyforge.kernel.errors import Conflict, Invalid, NotFound

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["fake", "postgres", "redis"])
def provisioner(request: pytest.FixtureRequest) -> Provisioner:
    made: dict[str, Provisioner] = {
        "fake": FakeProvisioner(),
        "postgres": PostgresProvisioner(POSTGRES),
        "redis": RedisProvisioner(REDIS),
    }
    return made[request.param]


@pytest.fixture
async def name(provisioner: Provisioner) -> AsyncIterator[str]:
    name = f"sf_test_{uuid.uuid4().hex[:16]}"
    yield name
    await provisioner.delete(name)


async def test_create_gives_credentials_for_the_name_and_it_then_exists(
    provisioner: Provisioner, name: str
) -> None:
    assert not await provisioner.exists(name)
    credentials = await provisioner.create(name)
    assert credentials.user == name
    assert f"{name}:{credentials.password}@" in credentials.url
    assert len(credentials.password) >= 40
    assert await provisioner.exists(name)


async def test_a_name_can_be_created_only_once(provisioner: Provisioner, name: str) -> None:
    await provisioner.create(name)
    with pytest.raises(Conflict):
        await provisioner.create(name)


async def test_rotate_gives_a_new_password_for_the_same_user(
    provisioner: Provisioner, name: str
) -> None:
    before = await provisioner.create(name)
    after = await provisioner.rotate(name)
    assert (after.user, after.database) == (before.user, before.database)
    assert after.password != before.password


async def test_rotate_of_a_missing_name_is_not_found(provisioner: Provisioner, name: str) -> None:
    with pytest.raises(NotFound):
        await provisioner.rotate(name)


async def test_delete_is_final_and_can_be_repeated(provisioner: Provisioner, name: str) -> None:
    await provisioner.create(name)
    await provisioner.delete(name)
    await provisioner.delete(name)
    assert not await provisioner.exists(name)
    await provisioner.create(name)  # the name is free again


@pytest.mark.parametrize("bad", ["x; DROP DATABASE test", '"a"', "A-b", "sf_" + "a" * 61, "é"])
async def test_bad_names_are_invalid_everywhere(provisioner: Provisioner, bad: str) -> None:
    for call in (provisioner.create, provisioner.rotate, provisioner.delete, provisioner.exists):
        with pytest.raises(Invalid):
            await call(bad)


async def test_audit_answers_sentences(provisioner: Provisioner) -> None:
    assert all(isinstance(line, str) and line for line in await provisioner.audit())
