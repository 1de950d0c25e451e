"""`skyforge login --sso` against a real OpenID provider, end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import SKYFORGE, SkyForge
from tests.oidc.harness import browser_login, start_provider

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("oidc-provider")]


def test_the_cli_logs_in_through_the_browser_and_the_provider(tmp_path: Path) -> None:
    sf = SkyForge(tmp_path / "data")
    callback = f"{sf.url}/api/v1/auth/oidc/callback"
    (tmp_path / "oidc").mkdir()
    provider = start_provider(tmp_path / "oidc", callback)
    extra = {
        "SKYFORGE_OIDC_ISSUER": provider.issuer,
        "SKYFORGE_OIDC_CLIENT_ID": provider.client_id,
        "SKYFORGE_OIDC_CLIENT_SECRET": provider.client_secret,
    }
    try:
        with sf.running(extra_env=extra):
            sf.api().post("/api/v1/invitations", json={"email": "alice@example.com"})
            env = {k: v for k, v in sf.env.items() if k != "SKYFORGE_TOKEN"}
            env |= {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BROWSER": "true"}
            login = subprocess.Popen(
                [str(SKYFORGE), "login", "--sso", "--url", sf.url],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                assert login.stdout is not None
                url = next(line.strip() for line in login.stdout if line.startswith("http"))
                back = browser_login(url, "alice")  # the user's browser at the provider's pages
                assert back.startswith(callback)
                page = httpx.get(back, timeout=30)  # ... which the provider sends back to SkyForge
                assert page.status_code == 200, page.text
                assert login.wait(timeout=60) == 0, login.stdout.read()
            finally:
                login.kill()
                login.wait()
                if login.stdout is not None:
                    login.stdout.close()
            who = subprocess.run(
                [str(SKYFORGE), "whoami", "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert json.loads(who.stdout)["email"] == "alice@example.com"
    finally:
        provider.stop()
