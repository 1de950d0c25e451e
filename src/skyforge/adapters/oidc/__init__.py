"""OpenID Connect relying party: login with any standards provider (code flow with PKCE)."""

from skyforge.adapters.oidc.authorize import AuthRequest
from skyforge.adapters.oidc.client import IdentityClaims, OidcClient
from skyforge.adapters.oidc.discovery import ProviderMetadata
from skyforge.adapters.oidc.errors import (
    DiscoveryError,
    InvalidIdToken,
    OidcError,
    StateMismatch,
    TokenExchangeError,
    UnknownSigningKey,
)
from skyforge.adapters.oidc.id_token import verify_id_token

__all__ = [
    "AuthRequest",
    "DiscoveryError",
    "IdentityClaims",
    "InvalidIdToken",
    "OidcClient",
    "OidcError",
    "ProviderMetadata",
    "StateMismatch",
    "TokenExchangeError",
    "UnknownSigningKey",
    "verify_id_token",
]
