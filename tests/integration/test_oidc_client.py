"""OidcClient against a real OpenID provider (npm oidc-provider) driven like a browser."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.oidc.harness import Provider, browser_login, start_provider

from skyforge.adapters.oidc import (
    AuthRequest,
    DiscoveryError,
    IdentityClaims,
    InvalidIdToken,
    OidcClient,
    OidcError,
    StateMismatch,
    TokenExchangeError,
)

# Never requested: the browser stops at the redirect and the test plays the callback.
CALLBACK = "http://127.0.0.1:9/oidc/callback"

# One worker starts one provider for the whole module.
pytestmark = pytest.mark.xdist_group("oidc-provider")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    started = start_provider(tmp_path_factory.mktemp("oidc"), CALLBACK)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def conforming_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """Email and name only from userinfo, and client_secret_post only: the other code paths."""
    started = start_provider(
        tmp_path_factory.mktemp("oidc-conforming"),
        CALLBACK,
        auth_method="client_secret_post",
        id_token_claims=False,
    )
    yield started
    started.stop()


class Recorder:
    """An httpx client that remembers which URLs the relying party requested."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.http = httpx.AsyncClient(event_hooks={"request": [self.record]})

    async def record(self, request: httpx.Request) -> None:
        self.requests.append(request)


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    recorder = Recorder()
    yield recorder
    await recorder.http.aclose()


@pytest.fixture
async def client(provider: Provider, recorder: Recorder) -> OidcClient:
    oidc = OidcClient(
        provider.issuer, provider.client_id, provider.client_secret, CALLBACK, http=recorder.http
    )
    await oidc.discover()
    return oidc


def callback_params(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def login(client: OidcClient, username: str) -> tuple[AuthRequest, dict[str, str]]:
    request = client.begin()
    return request, callback_params(browser_login(request.url, username))


async def finish(
    client: OidcClient, request: AuthRequest, params: dict[str, str]
) -> IdentityClaims:
    return await client.finish(
        code=params["code"],
        state=params["state"],
        expected_state=request.state,
        nonce=request.nonce,
        code_verifier=request.code_verifier,
    )


async def test_alice_logs_in_and_the_provider_vouches_for_her_email_and_name(
    client: OidcClient, provider: Provider
) -> None:
    request, params = await login(client, "alice")
    claims = await client.finish_callback(
        params,
        expected_state=request.state,
        nonce=request.nonce,
        code_verifier=request.code_verifier,
    )
    assert claims == IdentityClaims(provider.issuer, "alice", "alice@example.com", True, "Alice")


async def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge(
    client: OidcClient,
) -> None:
    request = client.begin()
    query = callback_params(request.url)
    assert (query["state"], query["nonce"]) == (request.state, request.nonce)
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(request.code_verifier) <= 128
    assert request.code_verifier not in request.url and request.code_verifier not in repr(request)


async def test_bob_has_no_name_and_an_unverified_email(client: OidcClient) -> None:
    claims = await finish(client, *await login(client, "bob"))
    assert (claims.subject, claims.email, claims.email_verified, claims.name) == (
        "bob",
        "bob@example.com",
        False,
        None,
    )


async def test_the_provider_refuses_a_code_with_the_wrong_pkce_verifier(
    client: OidcClient,
) -> None:
    request, params = await login(client, "alice")
    with pytest.raises(TokenExchangeError, match="invalid_grant"):
        await client.finish(
            code=params["code"],
            state=params["state"],
            expected_state=request.state,
            nonce=request.nonce,
            code_verifier=client.begin().code_verifier,
        )


async def test_the_provider_refuses_a_replayed_code(client: OidcClient) -> None:
    request, params = await login(client, "alice")
    await finish(client, request, params)
    with pytest.raises(TokenExchangeError, match="invalid_grant"):
        await finish(client, request, params)


async def test_a_tampered_state_is_refused_before_any_request(
    client: OidcClient, recorder: Recorder
) -> None:
    request = client.begin()
    recorder.requests.clear()
    with pytest.raises(StateMismatch):
        await client.finish(
            code="any",
            state=request.state[:-1] + "x",
            expected_state=request.state,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
        )
    assert recorder.requests == []


async def test_a_wrong_nonce_is_refused(client: OidcClient) -> None:
    request, params = await login(client, "alice")
    with pytest.raises(InvalidIdToken, match="nonce"):
        await client.finish(
            code=params["code"],
            state=params["state"],
            expected_state=request.state,
            nonce=client.begin().nonce,
            code_verifier=request.code_verifier,
        )


async def test_a_callback_naming_another_issuer_or_none_is_refused(client: OidcClient) -> None:
    # The provider promises RFC 9207's `iss`, so a missing one is as suspect as a wrong one.
    request, params = await login(client, "alice")
    wrong = params | {"iss": "http://127.0.0.1:1"}
    missing = {name: value for name, value in params.items() if name != "iss"}
    secrets = {"nonce": request.nonce, "code_verifier": request.code_verifier}
    for tampered in (wrong, missing):
        with pytest.raises(OidcError, match="another provider"):
            await client.finish_callback(tampered, expected_state=request.state, **secrets)
    claims = await client.finish_callback(params, expected_state=request.state, **secrets)
    assert claims.subject == "alice"


async def test_an_error_from_the_provider_is_reported_without_redeeming_anything(
    client: OidcClient, recorder: Recorder
) -> None:
    request = client.begin()
    # prompt=none with no session: the provider answers login_required on the callback.
    params = callback_params(browser_login(request.url + "&prompt=none", "alice"))
    recorder.requests.clear()
    with pytest.raises(OidcError, match="login_required"):
        await client.finish_callback(
            params,
            expected_state=request.state,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
        )
    assert recorder.requests == []


async def test_discovery_naming_another_issuer_is_refused(provider: Provider) -> None:
    # The same document, fetched for "issuer/": it names the issuer without the slash.
    async with OidcClient(provider.issuer + "/", "c", "s", CALLBACK) as oidc:
        with pytest.raises(DiscoveryError, match="another issuer"):
            await oidc.discover()


@pytest.mark.parametrize(
    "issuer", ["http://login.example.com", "ftp://127.0.0.1", "https://", "https://a.example/?x=1"]
)
def test_an_issuer_that_is_not_https_or_not_a_plain_url_is_refused(issuer: str) -> None:
    with pytest.raises(DiscoveryError):
        OidcClient(issuer, "c", "s", CALLBACK)


async def test_plain_http_is_allowed_on_loopback_only() -> None:
    for issuer in ("http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"):
        async with OidcClient(issuer, "c", "s", CALLBACK) as oidc:
            assert oidc.issuer == issuer


async def test_userinfo_fills_in_what_the_id_token_leaves_out_and_client_secret_post_is_used(
    conforming_provider: Provider, recorder: Recorder
) -> None:
    p = conforming_provider
    oidc = OidcClient(p.issuer, p.client_id, p.client_secret, CALLBACK, http=recorder.http)
    metadata = await oidc.discover()
    assert metadata.client_auth_method == "client_secret_post"
    claims = await finish(oidc, *await login(oidc, "alice"))
    assert claims == IdentityClaims(p.issuer, "alice", "alice@example.com", True, "Alice")
    token_request = next(r for r in recorder.requests if r.url == metadata.token_endpoint)
    assert "authorization" not in token_request.headers
    assert any(r.url == metadata.userinfo_endpoint for r in recorder.requests)


async def test_discovery_and_keys_are_cached_between_logins(
    client: OidcClient, recorder: Recorder
) -> None:
    await finish(client, *await login(client, "alice"))
    recorder.requests.clear()
    await finish(client, *await login(client, "alice"))
    assert [r.method for r in recorder.requests] == ["POST"]  # the token endpoint, nothing else
