"""The provider's discovery document (OpenID Connect Discovery 1.0), parsed and checked."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from skyforge.adapters.oidc.errors import DiscoveryError

# Asymmetric only: an HMAC ID token would be keyed with the client secret, never with the
# JWKS, and accepting HS* next to public keys is the classic algorithm-confusion hole.
ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
    }
)  # fmt: skip
_CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses, the only hosts allowed plain http."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: object, what: str) -> str:
    """The URL if it is absolute https (or http on a loopback host), else DiscoveryError."""
    if not isinstance(url, str):
        raise DiscoveryError(f"the provider's {what} is missing")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as error:
        raise DiscoveryError(f"the provider's {what} is not a URL") from error
    if not host or parts.fragment or parts.username or parts.password:
        raise DiscoveryError(f"the provider's {what} is not a usable URL")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return url
    raise DiscoveryError(f"the provider's {what} must use https")


def check_issuer(issuer: str) -> str:
    """The configured issuer if it can be one: https (http on loopback), no query or fragment."""
    check_url(issuer, "issuer")
    if urlsplit(issuer).query:
        raise DiscoveryError("the provider's issuer must not have a query")
    return issuer


def discovery_url(issuer: str) -> str:
    """Where the issuer publishes its configuration (Discovery 1.0, section 4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of the discovery document a relying party uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: frozenset[str]
    client_auth_method: str
    issuer_in_response: bool


def parse_metadata(document: object, issuer: str) -> ProviderMetadata:
    """The metadata of `issuer` from its discovery document, or DiscoveryError."""
    if not isinstance(document, Mapping):
        raise DiscoveryError("the provider's discovery document is not a JSON object")
    # Exact match (Discovery 1.0, section 4.3): a document naming another issuer could come
    # from a mix-up or an impostor, and its tokens would carry that other issuer.
    if document.get("issuer") != issuer:
        raise DiscoveryError("the provider's discovery document names another issuer")
    if "code" not in _strings(document, "response_types_supported", ["code"]):
        raise DiscoveryError("the provider does not support the authorization code flow")
    pkce = document.get("code_challenge_methods_supported")
    if pkce is not None and "S256" not in _strings(document, "code_challenge_methods_supported"):
        raise DiscoveryError("the provider does not support PKCE with S256")
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=check_url(
            document.get("authorization_endpoint"), "authorization endpoint"
        ),
        token_endpoint=check_url(document.get("token_endpoint"), "token endpoint"),
        jwks_uri=check_url(document.get("jwks_uri"), "JWKS URI"),
        userinfo_endpoint=None if userinfo is None else check_url(userinfo, "userinfo endpoint"),
        signing_algorithms=_signing_algorithms(document),
        client_auth_method=_client_auth_method(document),
        issuer_in_response=document.get("authorization_response_iss_parameter_supported") is True,
    )


def _strings(document: Mapping[str, Any], name: str, default: list[str] | None = None) -> set[str]:
    value = document.get(name, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DiscoveryError(f"the provider's {name} is not a list of strings")
    return set(value)


def _signing_algorithms(document: Mapping[str, Any]) -> frozenset[str]:
    # RS256 is the default every provider must support (Core 1.0, section 15.1).
    advertised = _strings(document, "id_token_signing_alg_values_supported", ["RS256"])
    usable = frozenset(advertised & ASYMMETRIC_ALGORITHMS)
    if not usable:
        raise DiscoveryError("the provider signs ID tokens with no algorithm we accept")
    return usable


def _client_auth_method(document: Mapping[str, Any]) -> str:
    # client_secret_basic is the default when the document is silent (Discovery 1.0, 3).
    advertised = _strings(
        document, "token_endpoint_auth_methods_supported", [_CLIENT_AUTH_METHODS[0]]
    )
    for method in _CLIENT_AUTH_METHODS:
        if method in advertised:
            return method
    raise DiscoveryError("the provider accepts no client-secret authentication we support")
