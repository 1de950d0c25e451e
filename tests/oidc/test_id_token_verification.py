"""ID token verification against tokens forged with joserfc and a JWKS dict: no I/O."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import JWKRegistry, Key

from skyforge.adapters.oidc import InvalidIdToken, UnknownSigningKey, verify_id_token

ISSUER = "https://login.example.com"
CLIENT = "skyforge"
NONCE = "n-0S6_WzA2Mj"
ALGORITHMS = frozenset({"RS256", "ES256"})


@pytest.fixture(scope="module")
def key() -> Key:
    return JWKRegistry.generate_key("RSA", 2048, parameters={"kid": "k1", "use": "sig"})


@pytest.fixture(scope="module")
def jwks(key: Key) -> dict[str, Any]:
    other = JWKRegistry.generate_key("EC", "P-256", parameters={"kid": "k2"})
    return {"keys": [key.as_dict(private=False), other.as_dict(private=False)]}


def forge(key: Key, alg: str = "RS256", kid: str | None = "k1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "alice", "aud": CLIENT, "exp": now + 300, "iat": now}
    claims |= {"nonce": NONCE, **overrides}
    header = {"alg": alg} if kid is None else {"alg": alg, "kid": kid}
    return jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, key, [alg])


def verify(token: str, jwks: dict[str, Any], **options: Any) -> dict[str, Any]:
    arguments = {"issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE, "algorithms": ALGORITHMS}
    return verify_id_token(token, jwks=jwks, **(arguments | options))


def segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_well_formed_id_token_gives_its_claims(key: Key, jwks: dict[str, Any]) -> None:
    claims = verify(forge(key, email="alice@example.com"), jwks)
    assert (claims["sub"], claims["email"]) == ("alice", "alice@example.com")


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(jwks: dict[str, Any]) -> None:
    impostor = JWKRegistry.generate_key("RSA", 2048, parameters={"kid": "k1"})
    with pytest.raises(InvalidIdToken, match="signature"):
        verify(forge(impostor), jwks)


def test_an_unsigned_token_with_alg_none_is_refused(jwks: dict[str, Any]) -> None:
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": "a", "aud": CLIENT, "exp": now + 60, "iat": now}
    token = f"{segment({'alg': 'none'})}.{segment(payload | {'nonce': NONCE})}."
    with pytest.raises(InvalidIdToken, match="algorithm"):
        verify(token, jwks, algorithms={"none", "RS256"})


def test_an_hmac_token_is_refused_even_when_the_provider_advertises_hs256(
    key: Key, jwks: dict[str, Any]
) -> None:
    secret = JWKRegistry.import_key({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"})
    with pytest.raises(InvalidIdToken, match="algorithm"):
        verify(forge(secret, alg="HS256"), jwks, algorithms={"HS256", "RS256"})


def test_an_algorithm_the_provider_does_not_advertise_is_refused(
    key: Key, jwks: dict[str, Any]
) -> None:
    with pytest.raises(InvalidIdToken, match="algorithm"):
        verify(forge(key, alg="PS256"), jwks)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"iat": int(time.time()) + 3600}, "future"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"exp": True}, "expired"),
        ({"aud": "someone-else"}, "another client"),
        ({"aud": ["someone-else", CLIENT]}, "issued to another client"),
        ({"aud": [CLIENT, "x"], "azp": "x"}, "issued to another client"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"iss": ISSUER + "/"}, "another issuer"),
        ({"nonce": "replayed"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": ""}, "subject"),
    ],
    ids=[
        "expired", "issued-in-the-future", "not-before-in-the-future", "exp-not-a-number",
        "wrong-audience", "several-audiences-without-azp", "azp-of-another-client",
        "wrong-issuer", "issuer-with-a-trailing-slash", "wrong-nonce", "no-nonce", "no-subject",
    ],
)  # fmt: skip
def test_a_token_with_a_wrong_claim_is_refused(
    key: Key, jwks: dict[str, Any], claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidIdToken, match=reason):
        verify(forge(key, **claims), jwks)


def test_several_audiences_are_accepted_when_azp_names_this_client(
    key: Key, jwks: dict[str, Any]
) -> None:
    assert verify(forge(key, aud=[CLIENT, "api"], azp=CLIENT), jwks)["sub"] == "alice"


def test_a_little_clock_skew_is_tolerated(key: Key, jwks: dict[str, Any]) -> None:
    now = int(time.time())
    assert verify(forge(key, iat=now + 30, exp=now - 30), jwks)["sub"] == "alice"


def test_an_unknown_kid_is_reported_so_the_jwks_can_be_refetched(
    key: Key, jwks: dict[str, Any]
) -> None:
    with pytest.raises(UnknownSigningKey):
        verify(forge(key, kid="rotated"), jwks)


def test_a_token_without_kid_is_verified_with_the_only_key_that_fits(
    key: Key, jwks: dict[str, Any]
) -> None:
    assert verify(forge(key, kid=None), jwks)["sub"] == "alice"


def test_a_key_meant_for_encryption_is_never_used_to_verify(key: Key) -> None:
    jwks = {"keys": [key.as_dict(private=False) | {"use": "enc"}]}
    with pytest.raises(UnknownSigningKey):
        verify(forge(key), jwks)


def test_the_access_token_must_match_the_at_hash(key: Key, jwks: dict[str, Any]) -> None:
    digest = hashlib.sha256(b"the-access-token").digest()[:16]
    at_hash = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    token = forge(key, at_hash=at_hash)
    assert verify(token, jwks, access_token="the-access-token")["sub"] == "alice"
    with pytest.raises(InvalidIdToken, match="access token"):
        verify(token, jwks, access_token="another-access-token")


def test_an_encrypted_or_garbled_token_is_refused(jwks: dict[str, Any]) -> None:
    for token in ("a.b.c.d.e", "not-a-jwt", "e30.e30.", "!!.e30.sig"):
        with pytest.raises(InvalidIdToken):
            verify(token, jwks)


def test_a_token_without_kid_is_refused_when_several_keys_could_have_signed_it(
    key: Key, jwks: dict[str, Any]
) -> None:
    spare = JWKRegistry.generate_key("RSA", 2048, parameters={"kid": "k3"})
    keys = {"keys": [*jwks["keys"], spare.as_dict(private=False)]}
    with pytest.raises(InvalidIdToken, match="which"):
        verify(forge(key, kid=None), keys)
