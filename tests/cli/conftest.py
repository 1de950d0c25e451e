"""A real SkyForge API on a free port (null runtime and edge) for the CLI tests of a module."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.cli.main import app
from skyforge.config import Settings

TOKEN = "test-token"
Cli = Callable[..., Result]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a SkyForge API served from a background thread."""
    port = free_port()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("skyforge"),
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        api_port=port,
        reconcile_interval=0.2,
    )
    platform = Platform(settings)
    config = uvicorn.Config(
        create_app(platform, manage_lifecycle=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the SkyForge API did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=15)


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


def make_git_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at `path` with `files` committed on `main`."""
    path.mkdir(parents=True)
    for name, content in files.items():
        (path / name).write_text(content)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(path)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "site"], check=True)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static site in a git repository: the null runtime deploys it without running it."""
    return make_git_repo(tmp_path_factory.mktemp("src") / "site", {"index.html": "<h1>hi</h1>\n"})
