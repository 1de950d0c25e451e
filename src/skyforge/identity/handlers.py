"""Identity use cases: the bootstrap admin token and checking bearer tokens."""

from __future__ import annotations

from skyforge.identity.model import ApiToken, Principal, hash_token, new_token, token_matches
from skyforge.identity.ports import IdentityUnitOfWork
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Unauthorized
from skyforge.kernel.ids import new_id

ADMIN_TOKEN_NAME = "admin"  # noqa: S105 (a name, not a secret)


async def ensure_admin_token(given: str | None, uow: IdentityUnitOfWork) -> str | None:
    """Store the admin token at first start; return it when it was generated here."""
    async with uow:
        if given:
            if await uow.tokens.by_hash(hash_token(given)) is None:
                await uow.tokens.add(ApiToken(new_id(), ADMIN_TOKEN_NAME, hash_token(given), now()))
                await uow.commit()
            return None
        if await uow.tokens.count() > 0:
            return None
        token = new_token()
        await uow.tokens.add(ApiToken(new_id(), ADMIN_TOKEN_NAME, hash_token(token), now()))
        await uow.commit()
        return token


async def authenticate(token: str, uow: IdentityUnitOfWork) -> Principal:
    """The principal behind a bearer token, or Unauthorized."""
    if not token or len(token) > 512:
        raise Unauthorized("a valid bearer token is required")
    async with uow:
        found = await uow.tokens.by_hash(hash_token(token))
    if found is None or not token_matches(token, found.token_hash):
        raise Unauthorized("a valid bearer token is required")
    return Principal(found.id, found.name)
