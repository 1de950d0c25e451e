"""Shared fixtures: every data-layer and API test runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from tests.support import make_git_repo

POSTGRES = os.environ.get("SKYFORGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "test-admin-token-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = f"skyforge_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        reconcile_interval=0.2,
        login_lock_seconds=1.0,
    )


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform(settings)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An API client authenticated with the admin token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://skyforge.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client


@pytest.fixture
def static_repo(tmp_path: Path) -> Iterator[Path]:
    yield make_git_repo(tmp_path / "site", {"index.html": "<h1>hello</h1>\n"})
