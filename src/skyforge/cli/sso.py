"""`skyforge login --sso`: log in in a browser while the CLI polls SkyForge (OIDC)."""

from __future__ import annotations

import contextlib
import time
import webbrowser

from skyforge.cli.client import Api, problem_detail, retry_after
from skyforge.cli.config import Config, Session
from skyforge.cli.follow import until_interrupted
from skyforge.cli.output import fail, note, say

AGAIN = "run `skyforge login --sso` again"


def _seconds(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else default


def sso_session(url: str) -> Session:
    """Start an OIDC login, open its page in a browser and wait until it is done."""
    with Api(Config(url), login_required=False) as api:
        response = api.send("POST", "/auth/oidc/start")
        if response.status_code == 404:
            fail(
                f"SkyForge at {url} does not offer SSO login ({problem_detail(response)}); "
                "log in with --email or --token"
            )
        api.check(response)
        start = response.json()
        authorize_url, poll_token = str(start["authorize_url"]), str(start["poll_token"])
        interval = _seconds(start.get("interval"), 5.0)
        deadline = time.monotonic() + _seconds(start.get("expires_in"), 600.0)
        say("Log in in your browser. If it does not open, visit:")
        say(authorize_url)
        with contextlib.suppress(webbrowser.Error, OSError):  # no browser: the URL will do
            webbrowser.open(authorize_url)
        note("Waiting for the login to finish (Ctrl-C cancels) ...")
        with until_interrupted("Login cancelled."):
            session = _poll(api, poll_token, interval, deadline)
    return session


def _poll(api: Api, poll_token: str, interval: float, deadline: float) -> Session:
    """Ask every `interval` seconds until the login is done, refused or expired."""
    while True:
        time.sleep(interval)
        response = api.send("POST", "/auth/oidc/poll", json={"poll_token": poll_token})
        if response.status_code == 200:
            return Session.from_answer(response.json())
        if response.status_code == 429:  # asked to slow down
            interval = min(max(interval * 2, retry_after(response) or 0.0), 60.0)
        elif response.status_code != 202:
            fail(f"the SSO login did not succeed ({problem_detail(response)}); {AGAIN}")
        if time.monotonic() > deadline:
            fail(f"the SSO login expired before it was finished; {AGAIN}")
