"""Forged, tampered, replayed and misused credentials are all refused with 401."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from joserfc import jwt
from joserfc.jwk import OctKey, OKPKey
from tests.integration.conftest import People

PUBLIC = {
    "/api/v1/auth/login",
    "/api/v1/auth/signup",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/oidc/login",
    "/api/v1/auth/oidc/callback",
    "/api/v1/auth/oidc/start",
    "/api/v1/auth/oidc/poll",
}


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


async def test_every_api_route_but_the_login_ones_needs_a_credential(app: FastAPI) -> None:
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/v1"):
            continue
        if route.path in PUBLIC:
            continue
        names = {d.call.__name__ for d in route.dependant.dependencies if d.call} | {
            sub.call.__name__
            for d in route.dependant.dependencies
            for sub in d.dependencies
            if sub.call
        }
        assert names & {"require_principal", "check"}, route.path


async def test_forged_and_tampered_access_tokens_are_refused(people: People) -> None:
    await people.sign_up("victim@example.com")
    good = (await people.login("victim@example.com"))["access_token"]
    header, claims, signature = parts(good)
    jwks = (await people.client().get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == 1 and "d" not in jwks["keys"][0]  # no private part
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": header["kid"]})
    public_x = base64.urlsafe_b64decode(jwks["keys"][0]["x"] + "==")

    def signed(over: dict[str, Any], key: Any = stranger, alg: str = "Ed25519") -> str:
        return jwt.encode({**header, "alg": alg}, {**claims, **over}, key, algorithms=[alg])

    forged = {
        "alg none": f"{b64({**header, 'alg': 'none'})}.{b64(claims)}.",
        "alg none, no dot": f"{b64({**header, 'alg': 'none'})}.{b64(claims)}",
        "other key": signed({}),
        "HS256 keyed with the public key": jwt.encode(
            {**header, "alg": "HS256"}, claims, OctKey.import_key(public_x), algorithms=["HS256"]
        ),
        "tampered payload": f"{b64(header)}.{b64({**claims, 'sub': 'someone-else'})}.{signature}",
        "tampered header": f"{b64({**header, 'kid': 'other'})}.{good.split('.')[1]}.{signature}",
        "truncated signature": good[:-4],
    }
    for name, token in forged.items():
        response = await people.client(token).get("/api/v1/me")
        assert response.status_code == 401, name
    assert (await people.client(good).get("/api/v1/me")).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": -60},
        {"nbf": 3600},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"exp": None},
        {"sub": None},
    ],
)
async def test_access_tokens_with_bad_claims_are_refused_even_when_signed_by_our_key(
    people: People, claims: dict[str, Any]
) -> None:
    await people.sign_up("claims@example.com")
    good = (await people.login("claims@example.com"))["access_token"]
    header, payload, _ = parts(good)
    async with people.app.state.platform.uow() as uow:
        key = next(k for k in await uow.signing_keys.all() if k.kid == header["kid"])
    now = int(time.time())
    for name, value in claims.items():
        if value is None:
            payload.pop(name)
        elif isinstance(value, int):
            payload[name] = now + value
        else:
            payload[name] = value
    token = jwt.encode(
        header,
        payload,
        OKPKey.import_key(people.app.state.platform.signer.private_jwk(key)),
        algorithms=["Ed25519"],
    )
    assert (await people.client(token).get("/api/v1/me")).status_code == 401


async def test_a_validly_signed_token_naming_no_live_session_of_its_user_is_refused(
    people: People,
) -> None:
    """The finding: with the stolen signing key, a token with any `sid` was accepted. A
    signature alone makes no session: the session must be live and its subject's."""
    platform = people.app.state.platform
    await people.sign_up("kim@example.com")
    await people.sign_up("lee@example.com")
    kim = await people.login("kim@example.com")
    lee = await people.login("lee@example.com")
    _, claims, _ = parts(kim["access_token"])
    async with platform.uow() as uow:
        [key] = await uow.signing_keys.all()
    admin_id = (await people.admin.get("/api/v1/me")).json()["id"]

    def forged(**changes: str) -> str:
        token: str = platform.signer.sign(
            {**claims, "jti": f"forged-{time.time_ns()}", **changes}, key
        )
        return token

    me = "/api/v1/me"
    assert (await people.client(forged()).get(me)).status_code == 200  # the key signs well
    refused = {
        "an unknown sid": forged(sid="01J0000000000000000000FAKE"),
        "the organization admin with kim's sid": forged(sub=admin_id),
        "kim with lee's sid": forged(sid=parts(lee["access_token"])[1]["sid"]),
    }
    for name, token in refused.items():
        assert (await people.client(token).get(me)).status_code == 401, name
    out = await people.client().post(
        "/api/v1/auth/logout", json={"refresh_token": kim["refresh_token"]}
    )
    assert out.status_code in (200, 204)
    assert (await people.client(forged()).get(me)).status_code == 401  # a revoked session


async def test_garbage_credentials_are_refused(people: People) -> None:
    for token in ("", "x", "a.b.c", "sfp_" + "A" * 43, "Bearer", "." * 5000, "é.é.é"):
        client = people.client()
        header = f"Bearer {token}".encode()  # raw bytes: an HTTP client would refuse "é"
        response = await client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, token


async def test_another_teams_projects_cannot_be_enumerated_or_touched(people: People) -> None:
    alice = await people.user("alice@example.com")
    bob = await people.user("bob@example.com")
    await alice.post("/api/v1/projects", json={"name": "alpha"})
    await bob.post("/api/v1/projects", json={"name": "bravo"})
    assert [p["name"] for p in (await bob.get("/api/v1/projects")).json()["items"]] == ["bravo"]
    for method, path, body in (
        ("GET", "/api/v1/projects/alpha", None),
        ("DELETE", "/api/v1/projects/alpha", None),
        ("GET", "/api/v1/projects/alpha/members", None),
        ("POST", "/api/v1/projects/alpha/members", {"email": "bob@example.com", "role": "owner"}),
        ("GET", "/api/v1/projects/alpha/audit", None),
        ("POST", "/api/v1/projects/alpha/services", {"name": "x", "source": {"git": "/x"}}),
    ):
        response = await bob.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
    assert (await alice.get("/api/v1/projects/alpha")).status_code == 200
