"""Logging in with a password (sessions that refresh themselves), logging out, whoami."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.cli.conftest import NAME, PASSWORD, Cli, saved

from skyforge.cli.client import Api
from skyforge.cli.config import Config, saved_config


@pytest.fixture
def member(make_user: Callable[..., str]) -> str:
    return make_user()


def log_in(cli: Cli, email: str) -> None:
    result = cli("login", "--email", email, "--password", PASSWORD, SKYFORGE_TOKEN=None)
    assert result.exit_code == 0, result.output


def edit_session(config_home: Path, **changes: str) -> None:
    path = config_home / "skyforge" / "config.json"
    data = json.loads(path.read_text())
    data["session"].update(changes)
    path.write_text(json.dumps(data))


def test_login_with_a_password_saves_a_session_only_its_owner_can_read(
    cli: Cli, server: str, config_home: Path, member: str
) -> None:
    result = cli("login", "--email", member, input=f"{PASSWORD}\n", SKYFORGE_TOKEN=None)

    assert result.exit_code == 0, result.output
    assert f"Logged in to {server} as {member}" in result.stdout
    assert PASSWORD not in result.output
    path = config_home / "skyforge" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    session = saved(config_home)["session"]
    assert set(session) == {"access_token", "refresh_token", "expires_at"}
    assert session["refresh_token"] not in result.output
    assert session["access_token"] not in result.output


def test_whoami_shows_the_user_and_how_they_are_authenticated(
    cli: Cli, server: str, member: str
) -> None:
    log_in(cli, member)

    result = cli("whoami", SKYFORGE_TOKEN=None)

    assert result.exit_code == 0, result.output
    for expected in (member, NAME, "member", "login session", server):
        assert expected in result.stdout
    admin = cli("whoami", "--json")
    assert json.loads(admin.stdout)["email"] == "admin@skyforge.local"


def test_an_expired_access_token_is_refreshed_and_saved_before_use(
    cli: Cli, config_home: Path, member: str
) -> None:
    log_in(cli, member)
    before = saved(config_home)["session"]
    edit_session(config_home, expires_at="2000-01-01T00:00:00+00:00")

    result = cli("whoami", SKYFORGE_TOKEN=None)

    assert result.exit_code == 0, result.output
    assert member in result.stdout
    after = saved(config_home)["session"]
    assert after["refresh_token"] != before["refresh_token"]
    assert datetime.fromisoformat(after["expires_at"]) > datetime.now(UTC)
    assert stat.S_IMODE((config_home / "skyforge" / "config.json").stat().st_mode) == 0o600
    assert cli("projects", "list", SKYFORGE_TOKEN=None).exit_code == 0
    assert saved(config_home)["session"] == after  # still fresh: no refresh


def test_a_refused_access_token_is_refreshed_once_and_the_call_retried(
    cli: Cli, config_home: Path, member: str
) -> None:
    log_in(cli, member)
    before = saved(config_home)["session"]
    edit_session(config_home, access_token="not.a.jwt")

    result = cli("whoami", SKYFORGE_TOKEN=None)

    assert result.exit_code == 0, result.output
    assert saved(config_home)["session"]["refresh_token"] != before["refresh_token"]


def test_a_session_another_command_refreshed_meanwhile_is_used_not_refreshed_again(
    cli: Cli, server: str, config_home: Path, member: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(cli, member)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    current = saved_config()
    assert current is not None and current.session is not None
    past = datetime.now(UTC) - timedelta(minutes=1)
    stale = replace(current.session, refresh_token="sfr_spent", expires_at=past)

    with Api(Config(server, session=stale)) as api:
        assert api.call("GET", "/me")["email"] == member

    assert saved_config() == current


def test_a_revoked_session_fails_with_the_login_hint(
    cli: Cli, server: str, config_home: Path, member: str
) -> None:
    log_in(cli, member)
    refresh = saved(config_home)["session"]["refresh_token"]
    ended = httpx.post(f"{server}/api/v1/auth/logout", json={"refresh_token": refresh})
    assert ended.status_code == 204

    result = cli("projects", "list", SKYFORGE_TOKEN=None)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the login session has ended")
    assert "skyforge login" in result.stderr
    assert "Traceback" not in result.output
    assert refresh not in result.output


def test_a_wrong_password_exits_1_with_a_clear_message_and_saves_nothing(
    cli: Cli, config_home: Path, member: str
) -> None:
    result = cli("login", "--email", member, "--password", "not-the-password", SKYFORGE_TOKEN=None)

    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: login failed: the e-mail or password is wrong"
    assert "not-the-password" not in result.output
    assert not (config_home / "skyforge" / "config.json").exists()


def test_logout_ends_the_session_on_the_server_and_forgets_it(
    cli: Cli, server: str, config_home: Path, member: str
) -> None:
    log_in(cli, member)
    refresh = saved(config_home)["session"]["refresh_token"]

    result = cli("logout")

    assert result.exit_code == 0, result.output
    assert not (config_home / "skyforge" / "config.json").exists()
    replay = httpx.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert replay.status_code == 401
    after = cli("whoami", SKYFORGE_TOKEN=None)
    assert after.exit_code == 1
    assert "not logged in" in after.stderr


def test_logging_in_again_ends_the_previous_session(
    cli: Cli, server: str, config_home: Path, member: str
) -> None:
    log_in(cli, member)
    first = saved(config_home)["session"]["refresh_token"]

    log_in(cli, member)

    replay = httpx.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401


def test_choosing_two_ways_to_log_in_is_a_usage_error(cli: Cli) -> None:
    result = cli("login", "--token", "x", "--email", "a@example.com")

    assert result.exit_code == 2
    assert "choose one way to log in" in result.stderr


def test_sso_login_says_clearly_when_the_server_does_not_offer_it(
    cli: Cli, server: str, config_home: Path
) -> None:
    result = cli("login", "--sso", SKYFORGE_TOKEN=None)

    assert result.exit_code == 1
    assert f"Error: SkyForge at {server} does not offer SSO login" in result.stderr
    assert "--email or --token" in result.stderr
    assert "Traceback" not in result.output
    assert not (config_home / "skyforge" / "config.json").exists()
