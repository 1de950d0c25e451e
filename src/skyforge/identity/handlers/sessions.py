"""Sessions: short-lived signed access tokens, rotating refresh tokens, signing keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyforge.identity.events import SessionRevoked
from skyforge.identity.model import (
    REFRESH_PREFIX,
    RefreshToken,
    SigningKey,
    User,
    hash_token,
    new_secret,
)
from skyforge.identity.ports import IdentityUnitOfWork, TokenSigner
from skyforge.identity.settings import IdentitySettings
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Unauthorized
from skyforge.kernel.ids import new_id

ALG = "Ed25519"  # EdDSA over Ed25519 (the fully-specified name of RFC 9864)


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int


async def signing_key(
    uow: IdentityUnitOfWork, signer: TokenSigner, settings: IdentitySettings
) -> SigningKey:
    """The key that signs now; a new one when the newest retired (old ones stay in the JWKS)."""
    at = now()
    async with uow:
        keys = await uow.signing_keys.all()
        current = [k for k in keys if k.created_at <= at < k.retire_at]
        if current:
            return max(current, key=lambda k: k.created_at)
        kid = new_id()
        sealed, public = signer.new_key(kid)
        retire = at + settings.key_lifetime
        key = SigningKey(kid, ALG, sealed, public, at, retire, retire + settings.access_ttl)
        await uow.signing_keys.add(key)
        await uow.signing_keys.delete_expired(at)
        await uow.commit()
    return key


async def reseal_signing_keys(uow: IdentityUnitOfWork, signer: TokenSigner) -> int:
    """After a master key rotation: every signing key's private part under the new key."""
    async with uow:
        keys = await uow.signing_keys.all()
        for key in keys:
            key.sealed_private_jwk = signer.reseal(key)
            await uow.signing_keys.save_sealed(key)
        await uow.commit()
    return len(keys)


async def jwks(uow: IdentityUnitOfWork) -> dict[str, Any]:
    """The public keys that verify tokens still in circulation."""
    at = now()
    async with uow:
        keys = await uow.signing_keys.all()
    return {"keys": [k.public_jwk for k in keys if k.expire_at > at]}


async def start_session(
    user: User,
    uow: IdentityUnitOfWork,
    signer: TokenSigner,
    settings: IdentitySettings,
    family_id: str | None = None,
) -> Session:
    """A new access token and refresh token (a new family unless one is continued)."""
    family = family_id or new_id()
    refresh = new_secret(REFRESH_PREFIX)
    at = now()
    async with uow:
        await uow.refresh_tokens.add(
            RefreshToken(
                new_id(), family, user.id, hash_token(refresh), at, at + settings.refresh_ttl
            )
        )
        await uow.commit()
    key = await signing_key(uow, signer, settings)
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": user.id,
        "sid": family,
        "jti": new_id(),
        "iat": int(at.timestamp()),
        "nbf": int(at.timestamp()),
        "exp": int((at + settings.access_ttl).timestamp()),
    }
    ttl = int(settings.access_ttl.total_seconds())
    return Session(signer.sign(claims, key), refresh, ttl)


async def refresh_session(
    token: str, uow: IdentityUnitOfWork, signer: TokenSigner, settings: IdentitySettings
) -> Session:
    """Rotate: the token is spent; presenting a spent one again revokes its whole family."""
    at = now()
    async with uow:
        found = await uow.refresh_tokens.by_hash(hash_token(token or ""))
        if found is None or found.revoked_at is not None or found.expires_at <= at:
            raise Unauthorized("the refresh token is not valid")
        # Spent with a conditional update: of two concurrent uses, exactly one wins.
        if found.used_at is not None or not await uow.refresh_tokens.spend(found.id, at):
            await uow.refresh_tokens.revoke_family(found.family_id, at)
            uow.emit(SessionRevoked(user_id=found.user_id, reason="refresh token reused"))
            await uow.commit()
            raise Unauthorized("the refresh token was already used; the session is revoked")
        user = await uow.users.get(found.user_id)
        await uow.commit()
    if user is None:
        raise Unauthorized("the account no longer exists")
    return await start_session(user, uow, signer, settings, family_id=found.family_id)


async def end_session(token: str, uow: IdentityUnitOfWork) -> None:
    """Log out: revoke the refresh token's family (its access tokens stop working too)."""
    async with uow:
        found = await uow.refresh_tokens.by_hash(hash_token(token or ""))
        if found is None:
            return  # unknown or already gone: logging out twice is not an error
        await uow.refresh_tokens.revoke_family(found.family_id, now())
        uow.emit(SessionRevoked(user_id=found.user_id, reason="logged out"))
        await uow.commit()
