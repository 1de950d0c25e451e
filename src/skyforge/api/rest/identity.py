"""Accounts and sessions: invitations, sign-up, login, refresh, logout, me, tokens, JWKS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from skyforge.api.auth import Caller, allow
from skyforge.api.deps import PlatformDep
from skyforge.api.rest.schemas.identity import (
    InvitationCreate,
    InvitationRead,
    LoginIn,
    OidcPollIn,
    OidcStartRead,
    RefreshIn,
    SessionRead,
    SignupIn,
    TokenCreate,
    TokenCreated,
    TokenPage,
    TokenRead,
    UserRead,
)
from skyforge.identity.commands import CreateToken, Invite, RevokeToken, SignUp
from skyforge.identity.handlers import accounts, oidc, sessions, tokens
from skyforge.identity.model import ApiToken, Principal, User

router = APIRouter(prefix="/api/v1", tags=["identity"])
wellknown = APIRouter(tags=["identity"])


def user_read(user: User, via: str | None = None) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        name=user.name,
        org_role=user.org_role,
        created_at=user.created_at,
        via=via,
    )


def token_read(t: ApiToken) -> TokenRead:
    return TokenRead(
        id=t.id,
        name=t.name,
        scope=t.scope.value,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
    )


def _session(s: sessions.Session) -> SessionRead:
    return SessionRead(
        access_token=s.access_token, refresh_token=s.refresh_token, expires_in=s.expires_in
    )


@router.post("/invitations", status_code=201, response_model=InvitationRead)
async def create_invitation(
    body: InvitationCreate, platform: PlatformDep, caller: Caller
) -> InvitationRead:
    """Invite someone to the organization (organization admins only)."""
    invitation, token = await platform.bus.handle(Invite(caller, body.email, body.org_role))
    return InvitationRead(
        id=invitation.id,
        email=invitation.email,
        org_role=invitation.org_role,
        token=token,
        expires_at=invitation.expires_at,
    )


@router.post("/auth/signup", status_code=201, response_model=UserRead)
async def signup(body: SignupIn, platform: PlatformDep) -> UserRead:
    """Accept an invitation: create the account with a password."""
    return user_read(
        await platform.bus.handle(SignUp(body.invitation, body.email, body.password, body.name))
    )


@router.post("/auth/login", response_model=SessionRead)
async def login(body: LoginIn, request: Request, platform: PlatformDep) -> SessionRead:
    """Log in with e-mail and password: a short-lived access token and a refresh token."""
    ip = request.client.host if request.client else "-"
    user = await accounts.password_login(
        body.email, body.password, ip, platform.uow(), platform.hasher, platform.login_throttle
    )
    return _session(
        await sessions.start_session(user, platform.uow(), platform.signer, platform.identity)
    )


@router.post("/auth/refresh", response_model=SessionRead)
async def refresh(body: RefreshIn, platform: PlatformDep) -> SessionRead:
    """Trade a refresh token for new tokens; a refresh token works once."""
    return _session(
        await sessions.refresh_session(
            body.refresh_token, platform.uow(), platform.signer, platform.identity
        )
    )


@router.post("/auth/logout", status_code=204)
async def logout(body: RefreshIn, platform: PlatformDep) -> Response:
    """End the session of a refresh token (its access tokens stop working too)."""
    await sessions.end_session(body.refresh_token, platform.uow())
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
async def me(platform: PlatformDep, caller: Caller) -> UserRead:
    """The calling user and the credential used."""
    return user_read(await accounts.me(caller, platform.uow()), caller.via)


@router.post("/tokens", status_code=201, response_model=TokenCreated)
async def create_token(
    body: TokenCreate,
    platform: PlatformDep,
    caller: Annotated[Principal, Depends(allow("project.read"))],
) -> TokenCreated:
    """A personal API token; the secret is in this answer only."""
    token, secret = await platform.bus.handle(
        CreateToken(caller, body.name, body.scope, body.expires_in_days)
    )
    return TokenCreated(**token_read(token).model_dump(), token=secret)


@router.get("/tokens", response_model=TokenPage)
async def list_tokens(platform: PlatformDep, caller: Caller) -> dict[str, Any]:
    """The caller's tokens (never their secrets)."""
    found = await tokens.list_tokens(caller, platform.uow())
    return {"items": [token_read(t) for t in found], "next_cursor": None}


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, platform: PlatformDep, caller: Caller) -> Response:
    """Revoke one of the caller's tokens."""
    await platform.bus.handle(RevokeToken(caller, token_id))
    return Response(status_code=204)


@wellknown.get("/.well-known/jwks.json")
async def jwks(platform: PlatformDep) -> dict[str, Any]:
    """The public keys that verify SkyForge's access tokens."""
    return await sessions.jwks(platform.uow())


@router.get("/auth/oidc/login", status_code=302, response_class=RedirectResponse)
async def oidc_login(platform: PlatformDep) -> RedirectResponse:
    """Start a login at the configured OpenID provider (redirects the browser there)."""
    started = await oidc.start_login(platform.oidc, platform.uow(), for_cli=False)
    return RedirectResponse(started.authorize_url, status_code=302)


@router.get("/auth/oidc/callback", response_model=SessionRead)
async def oidc_callback(request: Request, platform: PlatformDep) -> Response:
    """Where the provider sends the browser back: the session (or a page, for a CLI login)."""
    params = {k: v for k, v in request.query_params.items() if len(v) <= 4096}
    done = await oidc.finish_login(
        params, platform.oidc, platform.uow(), platform.signer, platform.identity
    )
    if done.session is None:
        return HTMLResponse(_LOGGED_IN)
    return JSONResponse(_session(done.session).model_dump())


@router.post("/auth/oidc/start", response_model=OidcStartRead)
async def oidc_start(platform: PlatformDep) -> OidcStartRead:
    """Start a login for a terminal: open authorize_url in a browser, then poll with the token."""
    started = await oidc.start_login(platform.oidc, platform.uow(), for_cli=True)
    ttl = int(oidc.LOGIN_TTL.total_seconds())
    return OidcStartRead(
        authorize_url=started.authorize_url,
        poll_token=started.poll_token or "",
        interval=1,
        expires_in=ttl,
    )


@router.post(
    "/auth/oidc/poll",
    response_model=SessionRead,
    responses={202: {"description": "the browser part is not done yet"}},
)
async def oidc_poll(body: OidcPollIn, platform: PlatformDep) -> Response:
    """The session of a terminal login once the browser part is done (202 until then)."""
    session = await oidc.poll_login(
        body.poll_token, platform.uow(), platform.signer, platform.identity
    )
    if session is None:
        return JSONResponse({"status": "pending"}, status_code=202)
    return JSONResponse(_session(session).model_dump())


_LOGGED_IN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>SkyForge</title></head><body><h1>You are logged in to SkyForge</h1>
<p>Return to your terminal.</p></body></html>"""
