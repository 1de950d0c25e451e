"""Bearer-token authentication for /api/v1 (the one place every request passes)."""

from __future__ import annotations

from fastapi import Request

from skyforge.identity.handlers import authenticate
from skyforge.identity.model import Principal
from skyforge.kernel.errors import Unauthorized


async def require_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    principal = await authenticate(token.strip(), request.app.state.platform.uow())
    request.state.principal = principal
    return principal
