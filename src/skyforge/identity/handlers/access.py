"""Authentication (who is calling) and authorization (may they): the one place both happen."""

from __future__ import annotations

from datetime import timedelta

from skyforge.identity.model import Principal, hash_token, token_matches
from skyforge.identity.permissions import MATRIX, Role, Scope, role_allows, scope_allows
from skyforge.identity.ports import IdentityUnitOfWork, ProjectIdOf, TokenSigner
from skyforge.identity.settings import IdentitySettings
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Forbidden, NotFound, Unauthorized

_REFUSED = "a valid bearer token is required"
_TOUCH_EVERY = timedelta(minutes=1)


async def authenticate(
    token: str, uow: IdentityUnitOfWork, signer: TokenSigner, settings: IdentitySettings
) -> Principal:
    """The principal behind a bearer token (personal token or access token), or Unauthorized."""
    if not token or len(token) > 4096:
        raise Unauthorized(_REFUSED)
    if token.count(".") == 2:
        return await _access_token(token, uow, signer, settings)
    # A personal token: ours start with sfp_, an operator's SKYFORGE_ADMIN_TOKEN may not.
    return await _personal_token(token, uow)


async def _personal_token(token: str, uow: IdentityUnitOfWork) -> Principal:
    at = now()
    async with uow:
        found = await uow.tokens.by_hash(hash_token(token))
        if found is None or not token_matches(token, found.token_hash) or not found.usable(at):
            raise Unauthorized(_REFUSED)
        user = await uow.users.get(found.user_id) if found.user_id else None
        if user is None:
            raise Unauthorized(_REFUSED)
        if found.last_used_at is None or at - found.last_used_at > _TOUCH_EVERY:
            found.last_used_at = at  # at most a write a minute per token
            await uow.tokens.save(found)
            await uow.commit()
    return Principal(user.id, user.email, user.org_admin, found.scope, f"token:{found.id}")


async def _access_token(
    token: str, uow: IdentityUnitOfWork, signer: TokenSigner, settings: IdentitySettings
) -> Principal:
    at = now()
    async with uow:
        keys = [k for k in await uow.signing_keys.all() if k.expire_at > at]
    claims = signer.verify(token, keys, settings.audience, settings.issuer)
    family, subject = claims.get("sid"), claims.get("sub")
    if not isinstance(family, str) or not isinstance(subject, str):
        raise Unauthorized(_REFUSED)
    async with uow:
        # A session id that names no live session of this user (revoked, made up, someone
        # else's) is refused: a valid signature alone does not make a session.
        if not await uow.refresh_tokens.family_live(family, subject):
            raise Unauthorized("the session has ended or does not exist")
        user = await uow.users.get(subject)
    if user is None:
        raise Unauthorized(_REFUSED)
    return Principal(user.id, user.email, user.org_admin, Scope.ADMIN, f"session:{family}")


async def project_role(
    principal: Principal, project: str, uow: IdentityUnitOfWork, project_id_of: ProjectIdOf
) -> tuple[str, Role | None]:
    """(project id, the caller's role there; None for an organization admin).

    NotFound, never Forbidden, when the caller is not a member: names must not leak.
    """
    project_id = await project_id_of(project)
    if project_id is None:
        raise NotFound(f"no project named {project!r}")
    if principal.org_admin:
        return project_id, None
    async with uow:
        membership = await uow.memberships.get(project_id, principal.user_id)
    if membership is None:
        raise NotFound(f"no project named {project!r}")
    return project_id, membership.role


async def authorize(
    principal: Principal,
    project: str,
    action: str,
    uow: IdentityUnitOfWork,
    project_id_of: ProjectIdOf,
) -> tuple[str, Role | None]:
    """Check `action` on `project` against the permission matrix and the token's scope.

    Returns the project's id and the caller's role there (None for an organization admin).
    """
    if action not in MATRIX:
        raise LookupError(f"unknown action {action!r}")
    project_id, role = await project_role(principal, project, uow, project_id_of)
    permit(principal, project, role, action)
    return project_id, role


def permit(principal: Principal, project: str, role: Role | None, action: str) -> None:
    """The caller's role in `project` (None: an organization admin) and the token's scope
    must both allow `action`."""
    if role is not None and not role_allows(role, action):
        raise Forbidden(f"your role in {project!r} ({role.value}) does not allow {action}")
    require_scope(principal, action)


def require_scope(principal: Principal, action: str) -> None:
    """A token of too narrow a scope is refused, whatever its owner may do."""
    if not scope_allows(principal.scope, action):
        raise Forbidden(f"this token's scope ({principal.scope.value}) does not allow {action}")


async def visible_project_ids(principal: Principal, uow: IdentityUnitOfWork) -> set[str] | None:
    """The projects the caller may see (None: all of them, for organization admins)."""
    if principal.org_admin:
        return None
    async with uow:
        return set(await uow.memberships.project_ids_of(principal.user_id))
