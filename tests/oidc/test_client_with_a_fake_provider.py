"""OidcClient against a scripted provider (httpx.MockTransport): the cases a real one won't do."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import JWKRegistry, Key

from skyforge.adapters.oidc import (
    AuthRequest,
    DiscoveryError,
    OidcClient,
    TokenExchangeError,
    UnknownSigningKey,
)

ISSUER = "https://login.example.com"
CALLBACK = "https://skyforge.example.com/oidc/callback"
SECRET = "the-client-secret"
CODE = "the-authorization-code"


class FakeProvider:
    """Serves discovery, JWKS, token and userinfo; every answer can be changed by a test."""

    def __init__(self) -> None:
        self.key = JWKRegistry.generate_key("EC", "P-256", parameters={"kid": "old"})
        self.published: list[Key] = [self.key]
        self.document: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize?tenant=t1",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
            "userinfo_endpoint": f"{ISSUER}/userinfo",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }
        self.claims: dict[str, Any] = {}
        self.userinfo: dict[str, Any] = {"sub": "alice"}
        self.token_response: httpx.Response | None = None
        self.hits: list[str] = []
        self.nonce = ""

    def id_token(self) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "alice", "aud": "skyforge", "iat": now, "exp": now + 60}
        claims |= {"nonce": self.nonce, "email": "alice@example.com", "name": "Alice"}
        claims |= self.claims
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, claims, self.key, ["ES256"])

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.hits.append(path)
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.document)
        if path == "/jwks":
            return httpx.Response(
                200, json={"keys": [k.as_dict(private=False) for k in self.published]}
            )
        if path == "/token":
            return self.token_response or httpx.Response(
                200,
                json={"id_token": self.id_token(), "access_token": "at", "token_type": "Bearer"},
            )
        if path == "/userinfo":
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def client(fake: FakeProvider) -> AsyncIterator[OidcClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    yield OidcClient(ISSUER, "skyforge", SECRET, CALLBACK, http=http)
    await http.aclose()


async def begin(client: OidcClient, fake: FakeProvider) -> AuthRequest:
    await client.discover()
    request = client.begin()
    fake.nonce = request.nonce
    return request


async def redeem(client: OidcClient, request: AuthRequest) -> Any:
    return await client.finish(
        code=CODE,
        state=request.state,
        expected_state=request.state,
        nonce=request.nonce,
        code_verifier=request.code_verifier,
    )


async def test_the_authorization_endpoints_own_query_is_kept(
    client: OidcClient, fake: FakeProvider
) -> None:
    request = await begin(client, fake)
    assert request.url.startswith(f"{ISSUER}/authorize?tenant=t1&response_type=code&")


async def test_rotated_provider_keys_are_fetched_again_once(
    client: OidcClient, fake: FakeProvider
) -> None:
    await redeem(client, await begin(client, fake))
    fake.key = JWKRegistry.generate_key("EC", "P-256", parameters={"kid": "new"})
    fake.published = [fake.key]
    fake.hits.clear()
    claims = await redeem(client, await begin(client, fake))
    assert claims.subject == "alice"
    assert fake.hits == ["/token", "/jwks"]


async def test_a_key_missing_even_after_a_refetch_is_refused(
    client: OidcClient, fake: FakeProvider
) -> None:
    await redeem(client, await begin(client, fake))
    fake.key = JWKRegistry.generate_key("EC", "P-256", parameters={"kid": "unpublished"})
    fake.hits.clear()
    with pytest.raises(UnknownSigningKey):
        await redeem(client, await begin(client, fake))
    assert fake.hits.count("/jwks") == 1


@pytest.mark.parametrize(
    "change",
    [
        {"token_endpoint": "http://login.example.com/token"},
        {"jwks_uri": None},
        {"id_token_signing_alg_values_supported": ["HS256", "none"]},
        {"code_challenge_methods_supported": ["plain"]},
        {"token_endpoint_auth_methods_supported": ["private_key_jwt"]},
        {"response_types_supported": ["id_token"]},
    ],
    ids=["plain-http-endpoint", "no-jwks", "only-hmac", "no-s256", "no-secret-auth", "no-code"],
)
async def test_an_unusable_discovery_document_is_refused(
    client: OidcClient, fake: FakeProvider, change: dict[str, Any]
) -> None:
    fake.document |= change
    with pytest.raises(DiscoveryError):
        await client.discover()


async def test_the_discovery_document_is_cached_for_its_ttl(fake: FakeProvider) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handle)) as http:
        cached = OidcClient(ISSUER, "skyforge", SECRET, CALLBACK, http=http)
        expiring = OidcClient(ISSUER, "skyforge", SECRET, CALLBACK, http=http, cache_ttl=0)
        for oidc in (cached, cached, expiring, expiring):
            await oidc.discover()
    assert fake.hits.count("/.well-known/openid-configuration") == 3


async def test_userinfo_about_another_user_is_refused(
    client: OidcClient, fake: FakeProvider
) -> None:
    fake.claims = {"email": None, "name": None}
    fake.userinfo = {"sub": "mallory", "email": "mallory@example.com"}
    with pytest.raises(TokenExchangeError, match="another user"):
        await redeem(client, await begin(client, fake))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(400, json={"error": "invalid_client", "error_description": CODE}),
        httpx.Response(500, text=f"<html>{CODE} {SECRET}</html>"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"access_token": "at"}),
    ],
    ids=["refused", "server-error", "not-json", "no-id-token"],
)
async def test_a_failing_token_endpoint_gives_an_error_without_secrets(
    client: OidcClient, fake: FakeProvider, response: httpx.Response
) -> None:
    fake.token_response = response
    with pytest.raises(TokenExchangeError) as failure:
        await redeem(client, await begin(client, fake))
    assert CODE not in str(failure.value) and SECRET not in str(failure.value)


async def test_an_unreachable_provider_gives_an_oidc_error(fake: FakeProvider) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(timeout)) as http:
        oidc = OidcClient(ISSUER, "skyforge", SECRET, CALLBACK, http=http)
        with pytest.raises(DiscoveryError, match="could not reach"):
            await oidc.discover()


async def test_a_redirect_from_the_token_endpoint_is_not_followed_with_the_secret(
    fake: FakeProvider,
) -> None:
    fake.token_response = httpx.Response(307, headers={"location": "https://evil.example/steal"})
    transport = httpx.MockTransport(fake.handle)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
        oidc = OidcClient(ISSUER, "skyforge", SECRET, CALLBACK, http=http)
        with pytest.raises(TokenExchangeError, match="HTTP 307"):
            await redeem(oidc, await begin(oidc, fake))
    assert "/steal" not in fake.hits


async def test_email_verified_sent_as_a_string_by_some_providers_is_understood(
    client: OidcClient, fake: FakeProvider
) -> None:
    fake.claims = {"email_verified": "true"}
    assert (await redeem(client, await begin(client, fake))).email_verified is True
