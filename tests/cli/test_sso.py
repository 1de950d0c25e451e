"""`skyforge login --sso` against a scripted server (the real OIDC flow needs a provider)."""

from __future__ import annotations

import json
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from skyforge.cli.main import app

URL = "http://skyforge.test"
AUTHORIZE = "https://idp.example/authorize?state=abc"
SESSION = {"access_token": "a.b.c", "refresh_token": "sfr_new", "expires_in": 900}
Poll = Callable[[int], httpx.Response]


def problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"status": status, "detail": detail})


class Scripted:
    """The API side of the flow: start, then each poll answered by `poll(n)`."""

    def __init__(self, poll: Poll) -> None:
        self.poll, self.polls, self.opened = poll, 0, list[str]()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/auth/oidc/start":
            start = {"authorize_url": AUTHORIZE, "poll_token": "poll-secret", "interval": 0.01}
            return httpx.Response(200, json={**start, "expires_in": 60})
        if path == "/api/v1/auth/oidc/poll":
            assert json.loads(request.content) == {"poll_token": "poll-secret"}
            self.polls += 1
            return self.poll(self.polls)
        if path == "/api/v1/me" and request.headers.get("authorization") == "Bearer a.b.c":
            return httpx.Response(200, json={"email": "sso@example.com", "via": "session:x"})
        return problem(404, "Not Found")


def run_sso(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, poll: Poll
) -> tuple[Result, Scripted, Path]:
    scripted = Scripted(poll)
    real = httpx.Client

    def client(*args: Any, **kwargs: Any) -> httpx.Client:
        return real(*args, transport=httpx.MockTransport(scripted), **kwargs)

    monkeypatch.setattr(httpx, "Client", client)
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: scripted.opened.append(url))
    env = {"SKYFORGE_URL": URL, "SKYFORGE_TOKEN": None, "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(app, ["login", "--sso"], env=env)
    return result, scripted, tmp_path / "skyforge" / "config.json"


def test_sso_login_opens_the_browser_polls_until_done_and_saves_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def poll(n: int) -> httpx.Response:
        return httpx.Response(200, json=SESSION) if n == 3 else httpx.Response(202, json={})

    result, scripted, config = run_sso(tmp_path, monkeypatch, poll)

    assert result.exit_code == 0, result.output
    assert AUTHORIZE in result.stdout
    assert scripted.opened == [AUTHORIZE]
    assert scripted.polls == 3
    assert f"Logged in to {URL} as sso@example.com" in result.stdout
    assert json.loads(config.read_text())["session"]["refresh_token"] == "sfr_new"
    assert "poll-secret" not in result.output
    assert "sfr_new" not in result.output


def test_a_refused_sso_login_exits_1_with_the_reason_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _, config = run_sso(
        tmp_path, monkeypatch, lambda n: problem(403, "the identity provider refused the login")
    )

    assert result.exit_code == 1
    assert "the identity provider refused the login" in result.stderr
    assert "login --sso` again" in result.stderr
    assert not config.exists()
