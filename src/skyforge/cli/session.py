"""`skyforge login`, `skyforge logout` and `skyforge whoami`: the saved URL and credentials."""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import typer

from skyforge import __version__
from skyforge.cli.client import Api, check_url, problem_detail
from skyforge.cli.config import (
    DEFAULT_URL,
    Config,
    Session,
    forget_config,
    load_config,
    save_config,
    saved_config,
)
from skyforge.cli.options import Json
from skyforge.cli.output import fail, fields, note, print_json, say
from skyforge.cli.sso import sso_session

Url = Annotated[
    str | None,
    typer.Option(help=f"API URL (default: SKYFORGE_URL, the saved URL or {DEFAULT_URL})."),
]


def resolve_url(url: str | None) -> str:
    """The URL given, else SKYFORGE_URL, else the saved one, else the default."""
    saved = saved_config()
    return check_url(url or os.environ.get("SKYFORGE_URL") or (saved.url if saved else DEFAULT_URL))


def login(
    url: Url = None,
    token: Annotated[
        str | None,
        typer.Option(help="A personal API token (asked for, hidden, when no way is chosen)."),
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Log in with this e-mail address and its password.")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="The password for --email (asked for, hidden, if omitted).")
    ] = None,
    sso: Annotated[
        bool, typer.Option("--sso", help="Log in in a browser, with your identity provider.")
    ] = False,
) -> None:
    """Log in with a token, an e-mail and password, or SSO; save it for later commands."""
    ways = {"--token": token is not None, "--email": email is not None, "--sso": sso}
    chosen = [flag for flag, given in ways.items() if given]
    if len(chosen) > 1:
        fail(f"choose one way to log in, not {' and '.join(chosen)}", code=2)
    if password is not None and email is None:
        fail("--password goes with --email", code=2)
    url = resolve_url(url)
    if email is not None:
        config = Config(url, session=_password_session(url, email, password))
    elif sso:
        config = Config(url, session=sso_session(url))
    else:
        config = Config(url, token=_checked_token(url, token))
    previous = saved_config()
    path = save_config(config)
    if previous and previous.session:  # replaced: end it rather than leave it valid for weeks
        end_session(previous.url, previous.session)
    with Api(config) as api:
        me = api.call("GET", "/me")
    say(f"Logged in to {url} as {me['email']} (saved to {path}).", style="green")
    if os.environ.get("SKYFORGE_TOKEN"):
        note("Note: SKYFORGE_TOKEN is set and takes precedence over the saved credentials.")


def _checked_token(url: str, token: str | None) -> str:
    if token is None:
        token = typer.prompt("API token", hide_input=True)
    token = token.strip()
    if not token:
        fail("the token is empty")
    with Api(Config(url, token)) as api:
        response = api.send("GET", "/me")
        if response.status_code == 401:
            fail(f"SkyForge at {url} did not accept the token")
        api.check(response)
    return token


def _password_session(url: str, email: str, password: str | None) -> Session:
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    with Api(Config(url), login_required=False) as api:
        response = api.send("POST", "/auth/login", json={"email": email, "password": password})
        if response.status_code == 401:
            fail(f"login failed: {problem_detail(response)}")
        api.check(response)
    return Session.from_answer(response.json())


def end_session(url: str, session: Session) -> bool:
    """Log a session out on the server (best effort); False if that did not work."""
    try:
        response = httpx.post(
            f"{url}/api/v1/auth/logout",
            json={"refresh_token": session.refresh_token},
            headers={"User-Agent": f"skyforge-cli/{__version__}"},
            timeout=10.0,
        )
    except (httpx.HTTPError, httpx.InvalidURL):
        return False
    return response.is_success or response.status_code == 401  # 401: it had ended already


def logout() -> None:
    """Log out: end the login session on the server, then forget the saved credentials."""
    saved = saved_config()
    ended = end_session(saved.url, saved.session) if saved and saved.session else True
    if forget_config():
        say("Logged out (the saved credentials are deleted).")
    else:
        say("Not logged in (nothing was saved).")
    if not ended:
        note("SkyForge could not end the session; it expires unused when its refresh token does.")
    if os.environ.get("SKYFORGE_TOKEN"):
        note("Note: SKYFORGE_TOKEN is still set in this environment.")


def _via(me: dict[str, Any], config: Config) -> str:
    kind, _, ident = str(me.get("via") or "").partition(":")
    if kind == "token":
        return f"personal token {ident}" + (" (SKYFORGE_TOKEN)" if config.token_from_env else "")
    if kind == "session":
        return "login session (refreshed automatically)"
    return str(me.get("via") or "unknown")


def whoami(as_json: Json = False) -> None:
    """Show who you are, your organization role and how you are authenticated."""
    config = load_config()
    with Api(config) as api:
        me = api.call("GET", "/me")
    if as_json:
        print_json(me)
        return
    fields(
        [
            ("Email", me["email"]),
            ("Name", me["name"]),
            ("Org role", me["org_role"]),
            ("Via", _via(me, config)),
            ("URL", api.url),
        ]
    )
