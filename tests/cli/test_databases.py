"""`skyforge db` against a real API with the real PostgreSQL server registered."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.cli.conftest import TOKEN, Cli
from tests.conftest import POSTGRES
from tests.integration.test_api_databases import drop_server_objects
from tests.support import api_server, free_port

from skyforge.config import Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The module's API, with PostgreSQL registered for managed databases."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("skyforge"),
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        api_port=free_port(),
        reconcile_interval=0.2,
        postgres_admin_url=SecretStr(POSTGRES),
    )
    with api_server(settings) as url:
        yield url


@pytest.fixture
def project(cli: Cli, site: Path) -> Iterator[str]:
    name = f"c{uuid.uuid4().hex[:10]}"
    assert cli("projects", "create", name).exit_code == 0
    assert cli("services", "create", "web", "-p", name, "--git", str(site)).exit_code == 0
    try:
        yield name
    finally:
        asyncio.run(drop_server_objects(f"sf_{name}_"))


def status(cli: Cli, project: str) -> str:
    for _ in range(300):
        found = json.loads(cli("db", "list", "-p", project, "--json").stdout)
        if found[0]["status"] != "pending":
            return str(found[0]["status"])
        time.sleep(0.1)
    raise AssertionError("the database was not provisioned")


def test_a_database_can_be_created_listed_attached_and_deleted(cli: Cli, project: str) -> None:
    created = cli("db", "create", "main", "--engine", "postgres", "-p", project)
    assert created.exit_code == 0, created.output
    assert "Requested postgres database main" in created.stdout
    assert status(cli, project) == "ready"

    listed = cli("db", "list", "-p", project)
    attached = cli("db", "attach", "main", "web", "-p", project, "--as", "MAIN_URL")
    refused = cli("db", "delete", "main", "-p", project, input="wrong\n")
    deleted = cli("db", "delete", "main", "-p", project, "--confirm", "main")

    assert "main" in listed.stdout and "ready" in listed.stdout
    assert attached.exit_code == 0, attached.output
    assert "Attached main to web as MAIN_URL." in attached.stdout
    assert refused.exit_code == 1 and "confirm" in refused.stderr
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(cli("db", "list", "-p", project, "--json").stdout) == []


def test_a_hostile_name_is_a_one_line_error(cli: Cli, project: str) -> None:
    result = cli("db", "create", "x;DROP", "-p", project)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
