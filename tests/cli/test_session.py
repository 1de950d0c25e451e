"""Logging in and out, and how the CLI says it cannot get through."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.cli.conftest import TOKEN, Cli
from tests.support import free_port


def test_login_checks_the_token_and_saves_a_config_only_its_owner_can_read(
    cli: Cli, server: str, config_home: Path
) -> None:
    result = cli("login", "--url", server, "--token", TOKEN, SKYFORGE_URL=None, SKYFORGE_TOKEN=None)

    assert result.exit_code == 0, result.output
    assert f"Logged in to {server}" in result.stdout
    assert TOKEN not in result.output
    path = config_home / "skyforge" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": server, "token": TOKEN}
    listed = cli("projects", "list", "--json", SKYFORGE_URL=None, SKYFORGE_TOKEN=None)
    assert listed.exit_code == 0, listed.output
    assert isinstance(json.loads(listed.stdout), list)


def test_login_asks_for_the_token_without_echoing_it(cli: Cli, server: str) -> None:
    result = cli("login", "--url", server, input=f"{TOKEN}\n", SKYFORGE_TOKEN=None)

    assert result.exit_code == 0, result.output
    assert "API token" in result.output
    assert TOKEN not in result.output


def test_login_with_a_wrong_token_fails_and_saves_nothing(
    cli: Cli, server: str, config_home: Path
) -> None:
    result = cli("login", "--url", server, "--token", "not-the-token")

    assert result.exit_code == 1
    assert "Error: SkyForge at" in result.stderr
    assert "did not accept the token" in result.stderr
    assert "not-the-token" not in result.output
    assert not (config_home / "skyforge" / "config.json").exists()


def test_logout_forgets_the_saved_token(cli: Cli, server: str, config_home: Path) -> None:
    assert cli("login", "--url", server, "--token", TOKEN).exit_code == 0

    result = cli("logout")

    assert result.exit_code == 0
    assert not (config_home / "skyforge" / "config.json").exists()
    after = cli("projects", "list", SKYFORGE_URL=None, SKYFORGE_TOKEN=None)
    assert after.exit_code == 1
    assert "not logged in" in after.stderr
    assert "skyforge login" in after.stderr


def test_a_wrong_token_exits_1_and_says_to_log_in(cli: Cli) -> None:
    result = cli("projects", "list", SKYFORGE_TOKEN="wrong-token")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "skyforge login" in result.stderr
    assert "Traceback" not in result.output
    assert "wrong-token" not in result.output


def test_the_environment_overrides_the_saved_config(
    cli: Cli, server: str, config_home: Path
) -> None:
    assert cli("login", "--url", server, "--token", TOKEN).exit_code == 0

    result = cli("projects", "list", SKYFORGE_TOKEN="from-the-env")

    assert result.exit_code == 1
    assert "skyforge login" in result.stderr


def test_an_unreachable_api_says_to_start_skyforge(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = cli("projects", "list", SKYFORGE_URL=url)

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: cannot reach SkyForge at {url} (is `skyforge up` running?)"
    )


def test_a_url_that_is_not_http_is_refused_before_any_request(cli: Cli) -> None:
    result = cli("projects", "list", SKYFORGE_URL="localhost:8000")

    assert result.exit_code == 1
    assert "is not an http:// or https:// URL" in result.stderr
