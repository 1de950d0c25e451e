"""Accounts: the first admin, invitations, sign-up and password login."""

from __future__ import annotations

import math

from skyforge.identity.commands import Invite, SignUp
from skyforge.identity.events import InvitationCreated, LoginFailed, LoginLockedOut, UserSignedUp
from skyforge.identity.model import (
    INVITE_PREFIX,
    ORG_ROLES,
    TOKEN_PREFIX,
    ApiToken,
    Invitation,
    Principal,
    User,
    check_password,
    hash_token,
    new_secret,
    normalize_email,
)
from skyforge.identity.permissions import Scope
from skyforge.identity.ports import IdentityUnitOfWork, LoginThrottle, PasswordHasher
from skyforge.identity.settings import IdentitySettings
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, Forbidden, Invalid, TooManyRequests, Unauthorized
from skyforge.kernel.ids import new_id

ADMIN_TOKEN_NAME = "admin"  # noqa: S105 (a name, not a secret)
_BAD_LOGIN = "the e-mail or password is wrong"


async def ensure_admin(
    given: str | None, uow: IdentityUnitOfWork, settings: IdentitySettings
) -> str | None:
    """At first start: the first admin user and its admin token; returns a generated token."""
    generated = None
    async with uow:
        admin = await uow.users.first_admin()
        if admin is None:
            admin = User(new_id(), settings.admin_email, "Administrator", "admin", now())
            await uow.users.add(admin)
        if given:
            token = given if await uow.tokens.by_hash(hash_token(given)) is None else None
        elif await uow.tokens.count() == 0:
            token = generated = new_secret(TOKEN_PREFIX)
        else:
            token = None
        if token is not None:
            await uow.tokens.add(
                ApiToken(
                    new_id(),
                    ADMIN_TOKEN_NAME,
                    hash_token(token),
                    now(),
                    user_id=admin.id,
                    scope=Scope.ADMIN,
                )
            )
        await uow.commit()
    return generated


async def invite(
    cmd: Invite, uow: IdentityUnitOfWork, settings: IdentitySettings
) -> tuple[Invitation, str]:
    """An organization admin invites someone by e-mail; returns the invitation and its token."""
    if not cmd.by.org_admin:
        raise Forbidden("only organization admins invite people")
    email = normalize_email(cmd.email)
    if cmd.org_role not in ORG_ROLES:
        raise Invalid(f"org_role must be one of {', '.join(sorted(ORG_ROLES))}")
    token = new_secret(INVITE_PREFIX)
    at = now()
    invitation = Invitation(
        new_id(),
        email,
        cmd.org_role,
        hash_token(token),
        cmd.by.user_id,
        at,
        at + settings.invitation_ttl,
    )
    async with uow:
        if await uow.users.by_email(email) is not None:
            raise Conflict(f"{email} already has an account")
        await uow.invitations.add(invitation)
        uow.emit(InvitationCreated(email=email, org_role=cmd.org_role))
        await uow.commit()
    return invitation, token


async def sign_up(cmd: SignUp, uow: IdentityUnitOfWork, hasher: PasswordHasher) -> User:
    """Accept an invitation with a password."""
    email = normalize_email(cmd.email)
    password = check_password(cmd.password, email)
    name = (cmd.name or "").strip()
    if not 1 <= len(name) <= 100:
        raise Invalid("name must be 1 to 100 characters")
    password_hash = hasher.hash(password)
    async with uow:
        invitation = await uow.invitations.by_hash(hash_token(cmd.invitation or ""))
        at = now()
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.expires_at <= at
            or invitation.email != email
        ):
            raise Forbidden("the invitation is not valid for this e-mail address")
        if await uow.users.by_email(email) is not None:
            raise Conflict(f"{email} already has an account")
        user = User(new_id(), email, name, invitation.org_role, at, password_hash)
        await uow.users.add(user)
        invitation.accepted_at = at
        await uow.invitations.save(invitation)
        uow.emit(UserSignedUp(email=email, method="password"))
        await uow.commit()
    return user


async def password_login(
    email: str,
    password: str,
    ip: str,
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
) -> User:
    """The user behind an e-mail and password; failures are slowed down and locked out."""
    account = email.strip().lower() if isinstance(email, str) else ""
    verdict = await throttle.check(account, ip)
    if not verdict.allowed:
        raise TooManyRequests(
            "too many failed logins; try again later", retry_after=verdict.retry_after
        )
    async with uow:
        user = await uow.users.by_email(account)
    # Verify against a dummy hash when the account does not exist: same time, same answer.
    stored = user.password_hash if user and user.password_hash else _dummy_hash(hasher)
    valid = isinstance(password, str) and hasher.verify(stored, password)
    if user is None or user.password_hash is None or not valid:
        locked = await throttle.failed(account, ip)
        async with uow:  # audited (see adapters/sql/uow.py): the e-mail tried, never the password
            uow.emit(LoginFailed(email=account[:254], ip=ip))
            if not locked.allowed:
                seconds = math.ceil(locked.retry_after)
                uow.emit(LoginLockedOut(email=account[:254], ip=ip, seconds=seconds))
            await uow.commit()
        raise Unauthorized(_BAD_LOGIN)
    await throttle.succeeded(account, ip)
    return user


_DUMMY: dict[int, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = id(hasher)
    if key not in _DUMMY:
        _DUMMY[key] = hasher.hash("not-a-real-password-" + new_id())
    return _DUMMY[key]


async def me(principal: Principal, uow: IdentityUnitOfWork) -> User:
    """The calling user."""
    async with uow:
        user = await uow.users.get(principal.user_id)
    if user is None:
        raise Unauthorized("the account no longer exists")
    return user
