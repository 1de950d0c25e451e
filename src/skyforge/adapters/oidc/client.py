"""OidcClient: login with any OpenID provider by the authorization code flow with PKCE."""

from __future__ import annotations

import base64
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote_plus

import httpx

from skyforge.adapters.oidc.authorize import AuthRequest, authorization_request
from skyforge.adapters.oidc.discovery import (
    ProviderMetadata,
    check_issuer,
    discovery_url,
    parse_metadata,
)
from skyforge.adapters.oidc.errors import (
    DiscoveryError,
    OidcError,
    StateMismatch,
    TokenExchangeError,
    UnknownSigningKey,
)
from skyforge.adapters.oidc.id_token import DEFAULT_LEEWAY, verify_id_token

_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")  # RFC 6749 error codes; anything else is not echoed


@dataclass(frozen=True, slots=True)
class IdentityClaims:
    """Who logged in, as the provider vouches for it."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class OidcClient:
    """A relying party of one OpenID provider, configured by issuer URL and client credentials."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        http: httpx.AsyncClient | None = None,
        scopes: Sequence[str] = ("openid", "email", "profile"),
        timeout: float = 10.0,
        cache_ttl: float = 3600.0,
        leeway: int = DEFAULT_LEEWAY,
    ) -> None:
        self.issuer = check_issuer(issuer)
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes) if "openid" in scopes else ("openid", *scopes)
        self._owns_http = http is None
        self._http = httpx.AsyncClient() if http is None else http
        self._timeout = httpx.Timeout(timeout)
        self._ttl = cache_ttl
        self._leeway = leeway
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = 0.0

    def __repr__(self) -> str:
        return f"OidcClient(issuer={self.issuer!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> OidcClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this OidcClient made it."""
        if self._owns_http:
            await self._http.aclose()

    async def discover(self) -> ProviderMetadata:
        """The provider's checked discovery document, fetched at most once per cache TTL."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < self._ttl:
            return self._metadata
        document = await self._get_json(discovery_url(self.issuer), "discovery document")
        self._metadata = parse_metadata(document, self.issuer)
        self._metadata_at = time.monotonic()
        return self._metadata

    def begin(self) -> AuthRequest:
        """A fresh login: the authorization URL with state, nonce and a PKCE S256 challenge."""
        if self._metadata is None:
            raise DiscoveryError("the provider's configuration is not loaded: discover() first")
        return authorization_request(
            self._metadata.authorization_endpoint, self.client_id, self.redirect_uri, self.scopes
        )

    async def finish_callback(
        self, params: Mapping[str, str], *, expected_state: str, nonce: str, code_verifier: str
    ) -> IdentityClaims:
        """finish() from the callback's query parameters, with `error` and RFC 9207 `iss`."""
        _check_state(params.get("state", ""), expected_state)
        if "error" in params:
            code = params["error"] if _ERROR_CODE.match(params["error"]) else "unknown error"
            raise OidcError(f"the provider refused the login ({code})")
        metadata = await self.discover()
        # RFC 9207: an `iss` naming another provider means a mix-up attack; a provider that
        # promises `iss` and leaves it out is refused too.
        iss = params.get("iss")
        if iss != self.issuer and (iss is not None or metadata.issuer_in_response):
            raise OidcError("the login answer comes from another provider")
        return await self.finish(
            code=params.get("code", ""),
            state=params["state"],
            expected_state=expected_state,
            nonce=nonce,
            code_verifier=code_verifier,
        )

    async def finish(
        self, *, code: str, state: str, expected_state: str, nonce: str, code_verifier: str
    ) -> IdentityClaims:
        """Check state, redeem the code, verify the ID token; who logged in, or OidcError."""
        _check_state(state, expected_state)
        if not code:
            raise TokenExchangeError("the login answer has no authorization code")
        metadata = await self.discover()
        tokens = await self._redeem(metadata, code, code_verifier)
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str):
            raise TokenExchangeError("the token endpoint returned no ID token")
        if not isinstance(access_token, str):
            access_token = None
        claims = await self._verify(metadata, id_token, nonce, access_token)
        return await self._identity(metadata, claims, access_token)

    async def _redeem(
        self, metadata: ProviderMetadata, code: str, code_verifier: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        if metadata.client_auth_method == "client_secret_post":
            form |= {"client_id": self.client_id, "client_secret": self._client_secret}
        else:
            # RFC 6749, 2.3.1: both parts are form-urlencoded before base64, which matters
            # for secrets with ':' or non-ASCII in them.
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self._client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = await self._http.post(
                metadata.token_endpoint,
                data=form,
                headers=headers,
                timeout=self._timeout,
                # Per request, whatever the shared client does: a redirect must not carry the
                # code and the client secret to another URL.
                follow_redirects=False,
            )
        except httpx.HTTPError as error:
            raise TokenExchangeError("could not reach the provider's token endpoint") from error
        body = _json_object(response)
        if response.status_code != 200 or body is None:
            code_name = body.get("error") if body else None
            if isinstance(code_name, str) and _ERROR_CODE.match(code_name):
                raise TokenExchangeError(
                    f"the provider refused the authorization code ({code_name})"
                )
            raise TokenExchangeError(
                f"the provider's token endpoint answered HTTP {response.status_code}"
            )
        return body

    async def _verify(
        self, metadata: ProviderMetadata, id_token: str, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        def verify(jwks: dict[str, Any]) -> dict[str, Any]:
            return verify_id_token(
                id_token,
                jwks=jwks,
                issuer=self.issuer,
                client_id=self.client_id,
                nonce=nonce,
                algorithms=metadata.signing_algorithms,
                access_token=access_token,
                leeway=self._leeway,
            )

        stale = self._jwks is None or time.monotonic() - self._jwks_at >= self._ttl
        try:
            return verify(await self._keys(metadata, refresh=stale))
        except UnknownSigningKey:
            if stale:
                raise
        # The provider may have rotated its keys since we cached them: refetch once.
        return verify(await self._keys(metadata, refresh=True))

    async def _keys(self, metadata: ProviderMetadata, *, refresh: bool) -> dict[str, Any]:
        if refresh or self._jwks is None:
            self._jwks = await self._get_json(metadata.jwks_uri, "JWKS")
            self._jwks_at = time.monotonic()
        return self._jwks

    async def _identity(
        self, metadata: ProviderMetadata, claims: dict[str, Any], access_token: str | None
    ) -> IdentityClaims:
        email, verified, name = (
            claims.get("email"),
            claims.get("email_verified"),
            claims.get("name"),
        )
        wanted = (email is None and "email" in self.scopes) or (
            name is None and "profile" in self.scopes
        )
        if wanted and metadata.userinfo_endpoint and access_token:
            info = await self._get_json(
                metadata.userinfo_endpoint,
                "userinfo",
                headers={"Authorization": f"Bearer {access_token}"},
                error=TokenExchangeError,
            )
            # Core 1.0, 5.3.4: userinfo for another subject must not be mixed in.
            if info.get("sub") != claims["sub"]:
                raise TokenExchangeError("the userinfo endpoint answered for another user")
            if email is None:
                email, verified = info.get("email"), info.get("email_verified")
            name = info.get("name") if name is None else name
        return IdentityClaims(
            issuer=self.issuer,
            subject=claims["sub"],
            email=email if isinstance(email, str) else None,
            # Some providers send "true" as a string; anything else is not a verification.
            email_verified=isinstance(email, str) and (verified is True or verified == "true"),
            name=name if isinstance(name, str) else None,
        )

    async def _get_json(
        self,
        url: str,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        error: type[OidcError] = DiscoveryError,
    ) -> dict[str, Any]:
        try:
            response = await self._http.get(
                url,
                headers={"Accept": "application/json", **(headers or {})},
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as failure:
            raise error(f"could not reach the provider's {what}") from failure
        if response.status_code != 200:
            raise error(f"the provider's {what} answered HTTP {response.status_code}")
        body = _json_object(response)
        if body is None:
            raise error(f"the provider's {what} is not a JSON object")
        return body


def _check_state(state: str, expected_state: str) -> None:
    # Constant time, so the stored state cannot be guessed a byte at a time.
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise StateMismatch("the login answer does not belong to this login (state mismatch)")


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
