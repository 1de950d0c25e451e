"""ID token verification (OpenID Connect Core 1.0, section 3.1.3.7), with keys from a JWKS."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Collection, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import JWKRegistry, Key

from skyforge.adapters.oidc.discovery import ASYMMETRIC_ALGORITHMS
from skyforge.adapters.oidc.errors import InvalidIdToken, UnknownSigningKey

# Which JWK fits which algorithm: a key of another type must never be tried.
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521", "Ed25519": "Ed25519"}
DEFAULT_LEEWAY = 60  # seconds of clock skew between us and the provider


def token_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, unverified, or InvalidIdToken."""
    parts = token.split(".")
    if len(parts) == 5:
        raise InvalidIdToken("encrypted ID tokens are not supported")
    if len(parts) != 3:
        raise InvalidIdToken("the ID token is not a signed JWT")
    try:
        header = json.loads(_b64decode(parts[0]))
    except (ValueError, binascii.Error) as error:
        raise InvalidIdToken("the ID token's header is unreadable") from error
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise InvalidIdToken("the ID token's header is unreadable")
    return header


def verify_id_token(
    token: str,
    *,
    jwks: Mapping[str, Any],
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: Collection[str],
    access_token: str | None = None,
    now: float | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, times and nonce check out."""
    header = token_header(token)
    alg = header["alg"]
    # `algorithms` comes from discovery; the intersection keeps `none` and HS* out even if
    # a provider advertises them.
    if alg not in ASYMMETRIC_ALGORITHMS or alg not in algorithms:
        raise InvalidIdToken("the ID token is signed with an algorithm we do not accept")
    key = _signing_key(jwks, header.get("kid"), alg)
    try:
        with warnings.catch_warnings():
            # joserfc flags the old "EdDSA" name as deprecated; providers still use it.
            warnings.simplefilter("ignore", SecurityWarning)
            claims = jwt.decode(token, key, algorithms=[alg]).claims
    except BadSignatureError as error:
        raise InvalidIdToken("the ID token's signature does not verify") from error
    except (JoseError, ValueError) as error:
        raise InvalidIdToken("the ID token could not be verified") from error
    _check_claims(claims, issuer, client_id, nonce, time.time() if now is None else now, leeway)
    if access_token is not None and "at_hash" in claims:
        _check_at_hash(claims["at_hash"], access_token, alg)
    return claims


def _signing_key(jwks: Mapping[str, Any], kid: object, alg: str) -> Key:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise UnknownSigningKey("the provider's JWKS has no keys")
    fitting = [key for key in keys if isinstance(key, dict) and _fits(key, alg)]
    if kid is not None:
        fitting = [key for key in fitting if key.get("kid") == kid]
    if not fitting:
        raise UnknownSigningKey("no key of the provider's JWKS matches the ID token")
    if len(fitting) > 1:
        # Core 1.0, 10.1: with several keys the token must name one; guessing is not allowed.
        raise InvalidIdToken("the ID token does not say which of the provider's keys signed it")
    try:
        with warnings.catch_warnings():
            # joserfc warns about weak keys (short RSA moduli); we refuse them instead.
            warnings.simplefilter("error", SecurityWarning)
            return JWKRegistry.import_key(fitting[0])
    except (JoseError, ValueError, TypeError, SecurityWarning) as error:
        raise InvalidIdToken("the provider's signing key is unusable") from error


def _fits(key: dict[str, Any], alg: str) -> bool:
    if key.get("use", "sig") != "sig" or key.get("alg", alg) != alg:
        return False
    curve = _CURVES.get(alg)
    return key.get("kty") == _KEY_TYPES[alg[:2]] and (curve is None or key.get("crv") == curve)


def _check_claims(
    claims: dict[str, Any], issuer: str, client_id: str, nonce: str, now: float, leeway: int
) -> None:
    if claims.get("iss") != issuer:
        raise InvalidIdToken("the ID token comes from another issuer")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidIdToken("the ID token has no subject")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise InvalidIdToken("the ID token is meant for another client")
    azp = claims.get("azp")
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise InvalidIdToken("the ID token was issued to another client")
    expires, issued = _number(claims, "exp"), _number(claims, "iat")
    if expires is None or now > expires + leeway:
        raise InvalidIdToken("the ID token has expired")
    if issued is None or issued > now + leeway:
        raise InvalidIdToken("the ID token is issued in the future")
    not_before = _number(claims, "nbf")
    if not_before is not None and not_before > now + leeway:
        raise InvalidIdToken("the ID token is not valid yet")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode(), nonce.encode()
    ):
        raise InvalidIdToken("the ID token's nonce is not the one this login sent")


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    # bool is an int in Python; `"exp": true` must not pass as 1970.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _check_at_hash(at_hash: object, access_token: str, alg: str) -> None:
    # Core 1.0, 3.1.3.8: the left half of the access token's hash, with the JWS's hash size.
    if alg in ("EdDSA", "Ed25519") or alg.endswith("512"):
        digest = hashlib.sha512(access_token.encode()).digest()
    elif alg.endswith("384"):
        digest = hashlib.sha384(access_token.encode()).digest()
    else:
        digest = hashlib.sha256(access_token.encode()).digest()
    expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    if not isinstance(at_hash, str) or not hmac.compare_digest(at_hash.encode(), expected.encode()):
        raise InvalidIdToken("the access token does not belong to the ID token")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
