"""Login with an OpenID provider: authorization code flow with PKCE, state and nonce checked.

The state, nonce and verifier of a login in progress live in the database (any replica may get
the callback). A CLI starts a login with a poll token and collects the session by polling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from skyforge.identity.events import UserSignedUp
from skyforge.identity.handlers.sessions import Session, start_session
from skyforge.identity.model import OidcLogin, User, hash_token, new_secret, normalize_email
from skyforge.identity.ports import IdentityUnitOfWork, OidcIdentity, OidcProvider, TokenSigner
from skyforge.identity.settings import IdentitySettings
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Forbidden, Invalid, NotFound, SkyforgeError, Unauthorized
from skyforge.kernel.ids import new_id

LOGIN_TTL = timedelta(minutes=10)
POLL_PREFIX = "sfl_"


@dataclass(frozen=True)
class Started:
    authorize_url: str
    poll_token: str | None


@dataclass(frozen=True)
class Finished:
    session: Session | None  # None: a CLI collects it by polling


def _require(provider: OidcProvider | None) -> OidcProvider:
    if provider is None:
        raise NotFound("OIDC login is not configured")
    return provider


async def start_login(
    provider: OidcProvider | None, uow: IdentityUnitOfWork, *, for_cli: bool
) -> Started:
    """Where to send the browser; with for_cli, also the token to poll for the session."""
    request = await _require(provider).begin()
    poll = new_secret(POLL_PREFIX) if for_cli else None
    at = now()
    async with uow:
        await uow.oidc_logins.delete_expired(at)
        await uow.oidc_logins.add(
            OidcLogin(
                new_id(),
                hash_token(request.state),
                request.nonce,
                request.code_verifier,
                at,
                at + LOGIN_TTL,
                poll_hash=hash_token(poll) if poll else None,
            )
        )
        await uow.commit()
    return Started(request.url, poll)


async def finish_login(
    params: dict[str, str],
    provider: OidcProvider | None,
    uow: IdentityUnitOfWork,
    signer: TokenSigner,
    settings: IdentitySettings,
) -> Finished:
    """The provider's redirect back: check it, find or create the user, open a session."""
    provider = _require(provider)
    state = params.get("state", "")
    at = now()
    async with uow:
        login = await uow.oidc_logins.by_state(hash_token(state)) if state else None
        # Single use: a replayed callback finds its login spent.
        if login is None or login.expires_at <= at or not await uow.oidc_logins.spend(login.id, at):
            raise Unauthorized("this login is unknown, expired or already used; start again")
        await uow.commit()
    try:
        claims = await provider.finish(
            params, expected_state=state, nonce=login.nonce, code_verifier=login.code_verifier
        )
        user = await _user_for(claims, uow)
    except SkyforgeError as exc:
        if login.poll_hash is not None:  # the waiting terminal learns why at its next poll
            async with uow:
                login.error = exc.detail[:500]
                await uow.oidc_logins.save(login)
                await uow.commit()
        raise
    if login.poll_hash is not None:
        async with uow:
            login.user_id, login.used_at = user.id, at
            await uow.oidc_logins.save(login)
            await uow.commit()
        return Finished(None)
    return Finished(await start_session(user, uow, signer, settings))


async def poll_login(
    poll_token: str, uow: IdentityUnitOfWork, signer: TokenSigner, settings: IdentitySettings
) -> Session | None:
    """The session once the browser part is done (None while it is not); collected once."""
    if not isinstance(poll_token, str) or not poll_token.startswith(POLL_PREFIX):
        raise Invalid("poll_token is not one this API gave out")
    async with uow:
        login = await uow.oidc_logins.by_poll(hash_token(poll_token))
        if login is None or login.expires_at <= now():
            raise Unauthorized("this login is unknown or expired; start again")
        if login.error is not None:
            await uow.oidc_logins.delete(login.id)
            await uow.commit()
            raise Forbidden(login.error)
        if login.user_id is None:
            return None
        user = await uow.users.get(login.user_id)
        await uow.oidc_logins.delete(login.id)
        await uow.commit()
    if user is None:
        raise Unauthorized("the account no longer exists")
    return await start_session(user, uow, signer, settings)


async def _user_for(claims: OidcIdentity, uow: IdentityUnitOfWork) -> User:
    """Matched by issuer and subject; a first login needs an invitation for its e-mail."""
    async with uow:
        user = await uow.users.by_identity(claims.issuer, claims.subject)
        if user is not None:
            return user
        if not claims.email or not claims.email_verified:
            raise Forbidden("the identity provider did not give a verified e-mail address")
        email = normalize_email(claims.email)
        at = now()
        invitation = await uow.invitations.pending_for(email, at)
        if invitation is None:
            raise Forbidden(f"there is no invitation for {email}; ask an admin for one")
        user = await uow.users.by_email(email)
        if user is None:
            name = (claims.name or email.split("@")[0]).strip()[:100] or email
            user = User(new_id(), email, name, invitation.org_role, at)
            await uow.users.add(user)
        await uow.users.link_identity(user.id, claims.issuer, claims.subject)
        invitation.accepted_at = at
        await uow.invitations.save(invitation)
        uow.emit(UserSignedUp(email=email, method="oidc"))
        await uow.commit()
    return user
