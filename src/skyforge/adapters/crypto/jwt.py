"""Access tokens: JWTs signed with Ed25519 (EdDSA), verified strictly."""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey
from joserfc.jwt import JWTClaimsRegistry

from skyforge.identity.model import SigningKey
from skyforge.kernel.errors import Unauthorized

ALGORITHMS = ["Ed25519"]  # nothing else is accepted: not none, not HS256 with a public key
_REFUSED = "the access token is not valid"


class JwtSigner:
    def new_key(self, kid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        key = OKPKey.generate_key(
            "Ed25519", parameters={"kid": kid, "use": "sig", "alg": "Ed25519"}
        )
        return dict(key.as_dict(private=True)), dict(key.as_dict(private=False))

    def sign(self, claims: dict[str, Any], key: SigningKey) -> str:
        header = {"alg": "Ed25519", "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, OKPKey.import_key(key.private_jwk), algorithms=ALGORITHMS)

    def verify(
        self, token: str, keys: list[SigningKey], audience: str, issuer: str
    ) -> dict[str, Any]:
        if not keys:
            raise Unauthorized(_REFUSED)
        key_set = KeySet([OKPKey.import_key(k.public_jwk) for k in keys])
        try:
            decoded = jwt.decode(token, key_set, algorithms=ALGORITHMS)
            registry = JWTClaimsRegistry(
                leeway=5,
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": audience},
                sub={"essential": True},
                exp={"essential": True},
                nbf={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise Unauthorized(_REFUSED) from exc
        if decoded.header.get("typ") != "at+jwt":
            raise Unauthorized(_REFUSED)
        return dict(decoded.claims)
