"""A full run's logs never contain a credential or token that was used."""

from __future__ import annotations

import pytest
from tests.e2e.harness import TOKEN, SkyForge

pytestmark = pytest.mark.e2e
PASSWORD = "a long and secret passphrase"


def test_no_credential_used_in_a_run_appears_in_any_log(skyforge: SkyForge) -> None:
    api = skyforge.api()
    used = [TOKEN, PASSWORD]
    invitation = api.post("/api/v1/invitations", json={"email": "sam@example.com"}).json()
    used.append(invitation["token"])
    anon = skyforge.api()
    anon.headers.pop("Authorization")
    signup = {
        "invitation": invitation["token"],
        "email": "sam@example.com",
        "password": PASSWORD,
        "name": "Sam",
    }
    assert anon.post("/api/v1/auth/signup", json=signup).status_code == 201
    session = anon.post(
        "/api/v1/auth/login", json={"email": "sam@example.com", "password": PASSWORD}
    ).json()
    used += [session["access_token"], session["refresh_token"]]
    bad = anon.post(
        "/api/v1/auth/login", json={"email": "sam@example.com", "password": "wrong " + PASSWORD}
    )
    assert bad.status_code == 401
    used.append("wrong " + PASSWORD)
    user = {"Authorization": f"Bearer {session['access_token']}"}
    pat = anon.post("/api/v1/tokens", json={"name": "ci"}, headers=user).json()
    used.append(pat["token"])
    renewed = anon.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    ).json()
    used += [renewed["access_token"], renewed["refresh_token"]]
    replay = anon.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert replay.status_code == 401
    anon.get("/api/v1/me", headers={"Authorization": f"Bearer {pat['token']}x"})
    skyforge.cli("projects", "list")
    skyforge.stop()

    logs = [skyforge.data_dir / "up.log", *skyforge.data_dir.rglob("*.log")]
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())
    assert "SkyForge is up" in text  # the logs were read
    for secret in used:
        assert secret not in text, f"a secret leaked into the logs: {secret[:6]}..."
