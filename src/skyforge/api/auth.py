"""Authentication and authorization of REST calls: every /api/v1 route passes through here.

`Caller` authenticates the bearer token; `allow("service.deploy")` also checks the permission
matrix for the `{project}` in the path (404 for non-members, 403 for too small a role).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from skyforge.identity.handlers.access import require_scope
from skyforge.identity.model import Principal
from skyforge.kernel import context
from skyforge.kernel.errors import Unauthorized


async def require_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    platform = request.app.state.platform
    principal: Principal = await platform.cache.authenticate(token.strip())  # identity's, cached
    ctx = context.current.get()
    if ctx is not None:
        ctx.actor_id, ctx.actor, ctx.via = principal.user_id, principal.email, principal.via
    return principal


Caller = Annotated[Principal, Depends(require_principal)]


def allow(action: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, allowed to do `action` (in the path's project, if any)."""

    async def check(request: Request, principal: Caller) -> Principal:
        await _authorize(request, principal, action)
        return principal

    return check


def still_allowed(request: Request, action: str) -> Callable[[], Awaitable[Principal]]:
    """The authentication and authorization of `allow(action)`, to run again while a long
    response lasts (see api/streams.py)."""

    async def check() -> Principal:
        principal = await require_principal(request)
        await _authorize(request, principal, action)
        return principal

    return check


async def _authorize(request: Request, principal: Principal, action: str) -> None:
    project = request.path_params.get("project")
    platform = request.app.state.platform
    if project is None:
        require_scope(principal, action)
    else:
        await platform.cache.authorize(principal, project, action)  # identity's, cached
