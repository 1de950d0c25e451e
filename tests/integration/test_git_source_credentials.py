"""Credentials in a git source URL: used by the clone, stored sealed, shown as `***`, and
nowhere else: not in an API answer, an event, the audit log, the deploy log or a log line.

The private remote is `git http-backend` with basic auth on 127.0.0.2, which the operator
allows (SKYFORGE_WEBHOOK_ALLOWED_NETWORKS=127.0.0.2/32).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select, text
from tests.conftest import TOKEN
from tests.integration.git_http_server import GitServer, git_server
from tests.integration.test_inbound_hooks import (
    branch_with_commit,
    finished,
    github,
    github_pull,
    make_hook,
)
from tests.support import client_of, make_git_repo

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.sql.engine import MIGRATIONS
from skyforge.adapters.sql.tables import metadata, services
from skyforge.bootstrap import Platform
from skyforge.config import Settings

SVC = "/api/v1/projects/shop/services"
USER, TOKEN_VALUE = "alice", "tok-s3cr3t-42"
BASIC = "Basic " + base64.b64encode(f"{USER}:{TOKEN_VALUE}".encode()).decode()
MIGRATION = "0014_git_source_credentials"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.2/32"]})


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitServer]:
    app = make_git_repo(tmp_path / "app", {"index.html": "<h1>private</h1>\n"})
    with git_server(tmp_path / "remote", "127.0.0.2", credentials=(USER, TOKEN_VALUE)) as server:
        server.add("app.git", app)
        yield server


def with_credentials(remote: GitServer, userinfo: str = f"{USER}:{TOKEN_VALUE}") -> str:
    return f"http://{userinfo}@{remote.url.removeprefix('http://')}/app.git"


def masked(remote: GitServer) -> str:
    return f"http://***@{remote.url.removeprefix('http://')}/app.git"


async def deploy(api: httpx.AsyncClient, service: str = "web") -> dict[str, Any]:
    started = await api.post(f"{SVC}/{service}/deploys")
    assert started.status_code == 202, started.text
    for _ in range(300):
        done: dict[str, Any] = (
            await api.get(f"{SVC}/{service}/deploys/{started.json()['id']}")
        ).json()
        if done["status"] in ("succeeded", "failed", "cancelled"):
            return done
        await asyncio.sleep(0.1)
    raise AssertionError("the deploy did not finish")


async def everything_stored(platform: Platform) -> str:
    """Every row of every table, as text (binary columns as their bytes' repr)."""
    found = []
    async with platform.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                found.append(f"{table.name}: {row!r}")
    return "\n".join(found)


async def test_credentials_are_used_by_the_clone_and_appear_nowhere(
    api: httpx.AsyncClient,
    platform: Platform,
    remote: GitServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await api.post("/api/v1/projects", json={"name": "shop"})
    body = {"name": "web", "source": {"git": with_credentials(remote), "branch": "main"}}
    created = await api.post(SVC, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["source"]["git"] == masked(remote)

    done = await deploy(api)

    assert done["status"] == "succeeded", done
    assert BASIC in remote.authorizations
    answers = [created.text]
    for path in (
        SVC,
        f"{SVC}/web",
        f"{SVC}/web/deploys",
        f"{SVC}/web/deploys/{done['id']}",
        f"{SVC}/web/deploys/{done['id']}/logs",
        f"{SVC}/web/releases",
        "/api/v1/projects/shop/audit",
    ):
        answer = await api.get(path)
        assert answer.status_code == 200, (path, answer.text)
        answers.append(answer.text)
    patched = await api.patch(f"{SVC}/web", json={"health_check_path": "/"})
    answers.append(patched.text)
    assert masked(remote) in patched.text
    log = (await api.get(f"{SVC}/web/deploys/{done['id']}/logs")).text
    assert f"Fetching {masked(remote)}" in log
    stored = await everything_stored(platform)  # the outbox (events) and the audit log too
    assert "audit_log: " in stored and "outbox: " in stored
    for where in (*answers, stored, caplog.text):
        assert TOKEN_VALUE not in where
        assert base64.b64encode(TOKEN_VALUE.encode()).decode() not in where


async def test_the_masked_url_given_back_keeps_the_stored_credentials(
    api: httpx.AsyncClient, remote: GitServer
) -> None:
    await api.post("/api/v1/projects", json={"name": "shop"})
    body = {"name": "web", "source": {"git": with_credentials(remote)}}
    assert (await api.post(SVC, json=body)).status_code == 201
    back = {"source": {"git": masked(remote), "branch": "main"}}
    patched = await api.patch(f"{SVC}/web", json=back)
    assert patched.status_code == 200, patched.text
    assert (await deploy(api))["status"] == "succeeded"
    # `***` stands for the credentials of that URL only, and only when there are some.
    other = {"source": {"git": masked(remote).replace("/app.git", "/other.git")}}
    refused = await api.patch(f"{SVC}/web", json=other)
    assert refused.status_code == 422
    assert "stands for the credentials stored for the same URL" in refused.json()["detail"]
    fresh = {"name": "new", "source": {"git": masked(remote)}}
    assert (await api.post(SVC, json=fresh)).status_code == 422
    # A URL without credentials forgets them: the private remote refuses the clone.
    bare = {"source": {"git": remote.url + "/app.git"}}
    assert (await api.patch(f"{SVC}/web", json=bare)).json()["source"]["git"] == bare["source"][
        "git"
    ]
    assert (await deploy(api))["status"] == "failed"


async def test_a_pull_request_preview_builds_with_its_parents_credentials(
    api: httpx.AsyncClient, remote: GitServer, tmp_path: Path
) -> None:
    await api.post("/api/v1/projects", json={"name": "shop"})
    body = {"name": "web", "source": {"git": with_credentials(remote)}}
    assert (await api.post(SVC, json=body)).status_code == 201
    sha = branch_with_commit(tmp_path / "app", "feature/login", {"index.html": "<h1>pr</h1>\n"})
    git = ["git", "-C", str(tmp_path / "app"), "push", "-q", str(remote.root / "app.git")]
    subprocess.run([*git, "feature/login"], check=True)
    hook = await make_hook(api, "github")
    pull = github_pull("opened", 7, "feature/login", sha)

    opened = await api.post("/hooks/" + hook["id"], **github(hook, "pull_request", pull))

    assert opened.status_code == 202, opened.text
    assert TOKEN_VALUE not in opened.text
    done = await finished(api, "web-pr-7", opened.json()["deploy_id"])
    assert done["status"] == "succeeded", done
    preview = (await api.get(f"{SVC}/web-pr-7")).json()
    assert preview["source"] == {"git": masked(remote), "branch": "feature/login"}


async def test_a_master_key_rotation_reseals_the_credentials(
    api: httpx.AsyncClient, platform: Platform, remote: GitServer
) -> None:
    await api.post("/api/v1/projects", json={"name": "shop"})
    body = {"name": "web", "source": {"git": with_credentials(remote)}}
    assert (await api.post(SVC, json=body)).status_code == 201
    cipher = SealedBytes(platform.secrets.vault)

    async def sealed_under() -> str:
        async with platform.engine.connect() as conn:
            sealed = (await conn.execute(select(services.c.git_credentials))).scalar_one()
        return cipher.key_id(sealed)

    first = await sealed_under()
    rotated = (await api.post("/api/v1/secrets/rotate-key")).json()
    assert await sealed_under() == rotated["active_key_id"] != first
    # Kept until nothing sealed needs it, then retired by the next rotation.
    again = (await api.post("/api/v1/secrets/rotate-key")).json()
    assert first in again["retired"]
    assert await sealed_under() == again["active_key_id"]
    assert (await deploy(api))["status"] == "succeeded"


def _downgrade(connection: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    before = ScriptDirectory.from_config(cfg).get_revision(MIGRATION).down_revision
    assert isinstance(before, str)
    command.downgrade(cfg, before)


async def test_credentials_an_earlier_version_stored_in_the_url_are_sealed_at_start(
    settings: Settings, remote: GitServer
) -> None:
    earlier = Platform(settings)
    await earlier.start()
    try:
        async with client_of(earlier, TOKEN) as api:
            await api.post("/api/v1/projects", json={"name": "shop"})
            body = {"name": "web", "source": {"git": remote.url + "/app.git"}}
            assert (await api.post(SVC, json=body)).status_code == 201
            assert (await deploy(api))["status"] == "failed"  # no credentials: refused
    finally:
        await earlier.stop()
    # The schema and the rows as the version before this one left them.
    async with earlier.engine.begin() as conn:
        await conn.run_sync(_downgrade)
        await conn.execute(
            text("UPDATE services SET git_url = :u"), {"u": with_credentials(remote)}
        )
        await conn.execute(
            text("UPDATE deploys SET source_url = :u"), {"u": with_credentials(remote)}
        )
    await earlier.engine.dispose()

    upgraded = Platform(settings)
    await upgraded.start()
    try:
        stored = await everything_stored(upgraded)
        assert TOKEN_VALUE not in stored
        async with upgraded.engine.connect() as conn:
            row = (await conn.execute(select(services))).one()
        assert row.git_url == remote.url + "/app.git" and row.git_credentials is not None
        async with client_of(upgraded, TOKEN) as api:
            assert (await api.get(f"{SVC}/web")).json()["source"]["git"] == masked(remote)
            assert (await deploy(api))["status"] == "succeeded"
        assert BASIC in remote.authorizations
    finally:
        await upgraded.stop()
