"""Access tokens: JWTs signed with Ed25519 (EdDSA), verified strictly.

The private keys are stored only sealed under the secrets' master keys: whoever reads the
database gets the public keys (the JWKS) and ciphertext.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey
from joserfc.jwt import JWTClaimsRegistry

from skyforge.identity.model import SigningKey, signing_key_binding
from skyforge.kernel.errors import Unauthorized

ALGORITHMS = ["Ed25519"]  # nothing else is accepted: not none, not HS256 with a public key
_REFUSED = "the access token is not valid"


class Cipher(Protocol):
    """Envelope encryption under the secrets' master keys (blobs.SealedBytes)."""

    def seal(self, plaintext: bytes, binding: bytes) -> bytes: ...
    def open(self, sealed: bytes, binding: bytes) -> bytes: ...


class JwtSigner:
    def __init__(self, cipher: Cipher) -> None:
        self.cipher = cipher

    def new_key(self, kid: str) -> tuple[bytes, dict[str, Any]]:
        key = OKPKey.generate_key(
            "Ed25519", parameters={"kid": kid, "use": "sig", "alg": "Ed25519"}
        )
        private = json.dumps(key.as_dict(private=True)).encode()
        sealed = self.cipher.seal(private, signing_key_binding(kid))
        return sealed, dict(key.as_dict(private=False))

    def private_jwk(self, key: SigningKey) -> dict[str, Any]:
        """The key's private JWK, opened (raises SecretUnreadable without its master key)."""
        opened: dict[str, Any] = json.loads(self.cipher.open(key.sealed_private_jwk, key.binding))
        return opened

    def reseal(self, key: SigningKey) -> bytes:
        plain = self.cipher.open(key.sealed_private_jwk, key.binding)
        return self.cipher.seal(plain, key.binding)

    def sign(self, claims: dict[str, Any], key: SigningKey) -> str:
        header = {"alg": "Ed25519", "kid": key.kid, "typ": "at+jwt"}
        private = OKPKey.import_key(self.private_jwk(key))
        return jwt.encode(header, claims, private, algorithms=ALGORITHMS)

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
