"""Personal API tokens: named, scoped, optionally expiring, shown once, revoked by the owner."""

from __future__ import annotations

import re
from datetime import timedelta

from skyforge.identity.commands import CreateToken, RevokeToken
from skyforge.identity.events import TokenCreated, TokenRevoked
from skyforge.identity.model import TOKEN_PREFIX, ApiToken, Principal, hash_token, new_secret
from skyforge.identity.permissions import SCOPE_RANK, Scope
from skyforge.identity.ports import IdentityUnitOfWork
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Forbidden, Invalid, NotFound
from skyforge.kernel.ids import new_id

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")


async def create_token(cmd: CreateToken, uow: IdentityUnitOfWork) -> tuple[ApiToken, str]:
    """A new token of the caller; the secret is returned once and only its hash is kept."""
    if not isinstance(cmd.name, str) or not _NAME.fullmatch(cmd.name):
        raise Invalid("token name: 1-100 letters, digits, spaces, '.', '_' or '-'")
    try:
        scope = Scope(cmd.scope)
    except ValueError as exc:
        raise Invalid("scope must be read, write or admin") from exc
    if SCOPE_RANK[scope] > SCOPE_RANK[cmd.by.scope]:
        raise Forbidden("a token cannot have a wider scope than the credential creating it")
    days = cmd.expires_in_days
    if days is not None and not 1 <= days <= 3650:
        raise Invalid("expires_in_days must be between 1 and 3650")
    at = now()
    secret = new_secret(TOKEN_PREFIX)
    token = ApiToken(
        new_id(),
        cmd.name,
        hash_token(secret),
        at,
        user_id=cmd.by.user_id,
        scope=scope,
        expires_at=at + timedelta(days=days) if days else None,
    )
    async with uow:
        await uow.tokens.add(token)
        uow.emit(TokenCreated(token_id=token.id, name=token.name, scope=scope.value))
        await uow.commit()
    return token, secret


async def list_tokens(principal: Principal, uow: IdentityUnitOfWork) -> list[ApiToken]:
    """The caller's tokens (never their secrets)."""
    async with uow:
        return await uow.tokens.of_user(principal.user_id)


async def revoke_token(cmd: RevokeToken, uow: IdentityUnitOfWork) -> ApiToken:
    """Revoke one of the caller's tokens; it is refused from then on."""
    async with uow:
        token = await uow.tokens.get(cmd.token_id)
        if token is None or token.user_id != cmd.by.user_id:
            raise NotFound(f"no token {cmd.token_id!r}")
        if token.revoked_at is None:
            token.revoked_at = now()
            await uow.tokens.save(token)
            uow.emit(TokenRevoked(token_id=token.id, name=token.name))
            await uow.commit()
    return token
