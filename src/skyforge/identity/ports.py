from __future__ import annotations

from typing import Protocol

from skyforge.identity.model import ApiToken
from skyforge.kernel.uow import UnitOfWork


class TokenRepository(Protocol):
    async def add(self, token: ApiToken) -> None: ...
    async def by_hash(self, token_hash: str) -> ApiToken | None: ...
    async def count(self) -> int: ...


class IdentityUnitOfWork(UnitOfWork, Protocol):
    @property
    def tokens(self) -> TokenRepository: ...
