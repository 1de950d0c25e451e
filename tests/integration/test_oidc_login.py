"""Login with a real OpenID provider (oidc-provider), in a browser and from a terminal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.conftest import TOKEN
from tests.oidc.harness import Provider, browser_login, start_provider

from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.config import Settings

CALLBACK = "http://skyforge.test/api/v1/auth/oidc/callback"
pytestmark = pytest.mark.xdist_group("oidc-provider")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    running = start_provider(tmp_path_factory.mktemp("oidc"), CALLBACK)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def sso(settings: Settings, provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose login goes through the provider; the client has no credential."""
    configured = settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": provider.client_id,
            "oidc_client_secret": provider.client_secret,
            "oidc_redirect_url": CALLBACK,
        }
    )
    platform = Platform(configured)
    await platform.start()
    transport = httpx.ASGITransport(app=create_app(platform))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://skyforge.test") as c:
            invited = await c.post(
                "/api/v1/invitations",
                json={"email": "alice@example.com"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert invited.status_code == 201
            yield c
    finally:
        await platform.stop()


async def in_browser(url: str, user: str) -> str:
    """Log in at the provider's pages; the URL it sends the browser back to (not opened)."""
    back = await asyncio.to_thread(browser_login, url, user)
    assert back.startswith(CALLBACK)
    return back[len("http://skyforge.test") :]


async def test_a_terminal_login_polls_until_the_browser_part_is_done(
    sso: httpx.AsyncClient,
) -> None:
    started = (await sso.post("/api/v1/auth/oidc/start")).json()
    poll = {"poll_token": started["poll_token"]}
    assert (await sso.post("/api/v1/auth/oidc/poll", json=poll)).status_code == 202
    query = parse_qs(urlsplit(started["authorize_url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]

    page = await sso.get(await in_browser(started["authorize_url"], "alice"))
    assert page.status_code == 200 and "logged in" in page.text
    session = (await sso.post("/api/v1/auth/oidc/poll", json=poll)).json()
    me = await sso.get("/api/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.json()["email"] == "alice@example.com"
    assert me.json()["name"] == "Alice"
    assert (await sso.post("/api/v1/auth/oidc/poll", json=poll)).status_code == 401  # once


async def test_a_browser_login_matches_the_same_person_again_without_an_invitation(
    sso: httpx.AsyncClient,
) -> None:
    ids = []
    for _ in range(2):
        redirect = await sso.get("/api/v1/auth/oidc/login")
        assert redirect.status_code == 302
        done = await sso.get(await in_browser(redirect.headers["location"], "alice"))
        assert done.status_code == 200, done.text
        me = await sso.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {done.json()['access_token']}"}
        )
        ids.append(me.json()["id"])
    assert ids[0] == ids[1]


async def test_someone_without_an_invitation_is_refused(sso: httpx.AsyncClient) -> None:
    for user, reason in (("carol", "no invitation"), ("bob", "verified e-mail")):
        redirect = await sso.get("/api/v1/auth/oidc/login")
        refused = await sso.get(await in_browser(redirect.headers["location"], user))
        assert refused.status_code == 403
        assert reason in refused.json()["detail"]


async def test_replayed_or_forged_callbacks_are_refused(sso: httpx.AsyncClient) -> None:
    redirect = await sso.get("/api/v1/auth/oidc/login")
    callback = await in_browser(redirect.headers["location"], "alice")
    forged_state = callback.replace("state=", "state=x")
    assert (await sso.get(forged_state)).status_code == 401
    assert (await sso.get(callback)).status_code == 200
    assert (await sso.get(callback)).status_code == 401  # the same callback again
    no_code = callback.split("?")[0] + "?state=" + parse_qs(urlsplit(callback).query)["state"][0]
    assert (await sso.get(no_code)).status_code == 401


async def test_oidc_routes_say_so_when_no_provider_is_configured(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    assert platform.oidc is None
    response = await api.post("/api/v1/auth/oidc/start")
    assert response.status_code == 404
    assert "not configured" in response.json()["detail"]


async def test_a_refused_terminal_login_tells_the_polling_terminal_why(
    sso: httpx.AsyncClient,
) -> None:
    started = (await sso.post("/api/v1/auth/oidc/start")).json()
    refused = await sso.get(await in_browser(started["authorize_url"], "carol"))
    assert refused.status_code == 403
    poll = await sso.post("/api/v1/auth/oidc/poll", json={"poll_token": started["poll_token"]})
    assert poll.status_code == 403
    assert "no invitation" in poll.json()["detail"]
