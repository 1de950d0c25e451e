"""A real SkyForge API on a free port (null runtime and edge) for the CLI tests of a module."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support import api_server, free_port, make_git_repo
from typer.testing import CliRunner, Result

from skyforge.cli.main import app
from skyforge.config import Settings

TOKEN = "cli-test-token-0123456789abcdef0"
PASSWORD = "correct horse battery"
NAME = "Ada Lovelace"
Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a SkyForge API served from a background thread."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("skyforge"),
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        api_port=free_port(),
        rate_auth_burst=10_000,  # these tests log in often from one address on purpose
        reconcile_interval=0.2,
    )
    with api_server(settings) as url:
        yield url


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def cli(server: str, config_home: Path) -> Cli:
    """Run `skyforge ARGS...` against the test server; keyword arguments override the env."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, **env: str | None) -> Result:
        base: dict[str, str | None] = {
            "SKYFORGE_URL": server,
            "SKYFORGE_TOKEN": TOKEN,
            "SKYFORGE_PROJECT": None,
            "XDG_CONFIG_HOME": str(config_home),
            "COLUMNS": "200",
        }
        return runner.invoke(app, list(args), input=input, env={**base, **env})

    return run


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static site in a git repository: the null runtime deploys it without running it."""
    return make_git_repo(tmp_path_factory.mktemp("src") / "site", {"index.html": "<h1>hi</h1>\n"})


@pytest.fixture
def make_user(server: str) -> Callable[..., str]:
    """Invite and sign up a user through the API; returns the e-mail (the password: PASSWORD)."""

    def make(org_role: str = "member") -> str:
        email = f"u-{uuid.uuid4().hex[:8]}@example.com"
        invited = httpx.post(
            f"{server}/api/v1/invitations",
            json={"email": email, "org_role": org_role},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert invited.status_code == 201, invited.text
        body = {"invitation": invited.json()["token"], "email": email, "password": PASSWORD}
        signed = httpx.post(f"{server}/api/v1/auth/signup", json={**body, "name": NAME})
        assert signed.status_code == 201, signed.text
        return email

    return make


def saved(config_home: Path) -> dict[str, Any]:
    """The CLI's config file, decoded."""
    found: dict[str, Any] = json.loads((config_home / "skyforge" / "config.json").read_text())
    return found
