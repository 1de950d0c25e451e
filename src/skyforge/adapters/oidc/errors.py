"""Typed OpenID Connect login failures; messages are safe to show and never carry tokens."""


class OidcError(Exception):
    """A login through the OpenID provider failed; the message is safe to show."""


class DiscoveryError(OidcError):
    """The provider's configuration (issuer, discovery document, JWKS) is unusable."""


class StateMismatch(OidcError):
    """The callback's state is not the one this login started with (CSRF or a stale tab)."""


class TokenExchangeError(OidcError):
    """The token or userinfo endpoint refused the request or answered nonsense."""


class InvalidIdToken(OidcError):
    """The ID token failed verification (signature, issuer, audience, time or nonce)."""


class UnknownSigningKey(InvalidIdToken):
    """No key in the provider's JWKS matches the ID token's key id."""
