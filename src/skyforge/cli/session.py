"""`skyforge login` and `skyforge logout`: the saved URL and token."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from skyforge.cli.client import DEFAULT_URL, Api, Config, check_url, config_path, save_config
from skyforge.cli.client import saved_config as read_saved
from skyforge.cli.output import fail, note, say


def login(
    url: Annotated[
        str | None,
        typer.Option(help=f"API URL (default: SKYFORGE_URL, the saved URL or {DEFAULT_URL})."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="API token; asked for (hidden) when omitted.")
    ] = None,
) -> None:
    """Verify a token and save the URL and token for later commands."""
    saved = read_saved()
    url = check_url(url or os.environ.get("SKYFORGE_URL") or (saved.url if saved else DEFAULT_URL))
    if token is None:
        token = typer.prompt("API token", hide_input=True)
    token = token.strip()
    if not token:
        fail("the token is empty")
    with Api(Config(url, token)) as api:
        response = api.send("GET", "/projects", params={"limit": 1})
        if response.status_code == 401:
            fail(f"SkyForge at {url} did not accept the token")
        api.check(response)
    path = save_config(Config(url, token))
    say(f"Logged in to {url} (saved to {path}).", style="green")
    if os.environ.get("SKYFORGE_TOKEN"):
        note("Note: SKYFORGE_TOKEN is set and takes precedence over the saved token.")


def logout() -> None:
    """Forget the saved URL and token."""
    path = config_path()
    try:
        path.unlink()
    except FileNotFoundError:
        say(f"Not logged in (no {path}).")
    else:
        say(f"Logged out (removed {path}).")
    if os.environ.get("SKYFORGE_TOKEN"):
        note("Note: SKYFORGE_TOKEN is still set in this environment.")
