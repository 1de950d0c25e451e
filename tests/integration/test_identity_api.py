"""Accounts, sessions, personal tokens, members and the audit log, driven through the API."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from tests.integration.conftest import PASSWORD, People

from skyforge.adapters.sql.tables import api_tokens, signing_keys
from skyforge.bootstrap import Platform
from skyforge.kernel.clock import now


async def test_an_invited_person_signs_up_logs_in_and_is_who_they_say(people: People) -> None:
    alice = await people.user("Alice@Example.com")
    me = (await alice.get("/api/v1/me")).json()
    assert (me["email"], me["org_role"]) == ("alice@example.com", "member")
    assert me["via"].startswith("session:")
    admin = (await people.admin.get("/api/v1/me")).json()
    assert admin["org_role"] == "admin"  # the bootstrap token belongs to the first admin
    assert admin["via"].startswith("token:")


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "12 to 256"), ("bob@example.com", "e-mail"), ("aaaaaaaaaaaaaa", "repeated")],
)
async def test_weak_passwords_are_refused(people: People, password: str, reason: str) -> None:
    invited = await people.admin.post("/api/v1/invitations", json={"email": "bob@example.com"})
    response = await people.client().post(
        "/api/v1/auth/signup",
        json={
            "invitation": invited.json()["token"],
            "email": "bob@example.com",
            "password": password,
            "name": "Bob",
        },
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]


async def test_an_invitation_works_once_for_its_own_address_only(people: People) -> None:
    invited = (
        await people.admin.post("/api/v1/invitations", json={"email": "carol@example.com"})
    ).json()
    body = {
        "invitation": invited["token"],
        "email": "mallory@example.com",
        "password": PASSWORD,
        "name": "M",
    }
    assert (await people.client().post("/api/v1/auth/signup", json=body)).status_code == 403
    body["email"] = "carol@example.com"
    assert (await people.client().post("/api/v1/auth/signup", json=body)).status_code == 201
    assert (await people.client().post("/api/v1/auth/signup", json=body)).status_code == 403


async def test_only_organization_admins_invite(people: People) -> None:
    member = await people.user("member@example.com")
    response = await member.post("/api/v1/invitations", json={"email": "x@example.com"})
    assert response.status_code == 403
    admin = await people.user("second-admin@example.com", org_role="admin")
    assert (
        await admin.post("/api/v1/invitations", json={"email": "x@example.com"})
    ).status_code == 201


async def test_refresh_tokens_rotate_and_a_replay_revokes_the_session(people: People) -> None:
    await people.sign_up("dave@example.com")
    first = await people.login("dave@example.com")
    anon = people.client()
    second = (
        await anon.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    fresh = people.client(second["access_token"])
    assert (await fresh.get("/api/v1/me")).status_code == 200

    replay = await anon.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert (await fresh.get("/api/v1/me")).status_code == 401  # the whole family is revoked
    again = await anon.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401


async def test_logout_ends_the_session(people: People) -> None:
    await people.sign_up("erin@example.com")
    session = await people.login("erin@example.com")
    client = people.client(session["access_token"])
    assert (await client.get("/api/v1/me")).status_code == 200
    out = await people.client().post(
        "/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]}
    )
    assert out.status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_personal_tokens_are_shown_once_scoped_listed_and_revoked(
    people: People, platform: Platform
) -> None:
    frank = await people.user("frank@example.com")
    await frank.post("/api/v1/projects", json={"name": "franks"})
    created = (await frank.post("/api/v1/tokens", json={"name": "ci", "scope": "read"})).json()
    secret = created["token"]
    listed = (await frank.get("/api/v1/tokens")).json()["items"]
    assert [t["name"] for t in listed] == ["ci"]
    assert secret not in str(listed)
    reader = people.client(secret)
    assert (await reader.get("/api/v1/projects/franks")).status_code == 200
    refused = await reader.post("/api/v1/projects", json={"name": "more"})
    assert refused.status_code == 403
    assert "scope" in refused.json()["detail"]

    assert (await frank.delete(f"/api/v1/tokens/{created['id']}")).status_code == 204
    assert (await reader.get("/api/v1/projects/franks")).status_code == 401

    expiring = (
        await frank.post(
            "/api/v1/tokens", json={"name": "short", "scope": "write", "expires_in_days": 1}
        )
    ).json()
    async with platform.engine.begin() as conn:
        await conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == expiring["id"])
            .values(expires_at=now() - timedelta(seconds=1))
        )
    assert (await people.client(expiring["token"]).get("/api/v1/me")).status_code == 401


async def test_a_token_cannot_mint_a_wider_token(people: People) -> None:
    grace = await people.user("grace@example.com")
    reader = (await grace.post("/api/v1/tokens", json={"name": "r", "scope": "read"})).json()
    wider = await people.client(reader["token"]).post(
        "/api/v1/tokens", json={"name": "w", "scope": "admin"}
    )
    assert wider.status_code == 403


async def test_mutations_are_audited_with_who_what_where_and_no_values(
    people: People,
) -> None:
    owner = await people.user("owner@example.com")
    await owner.post("/api/v1/projects", json={"name": "audited"})
    await owner.post(
        "/api/v1/projects/audited/services",
        json={"name": "web", "source": {"git": "https://93.184.215.14/app.git"}},
    )
    await owner.patch(
        "/api/v1/projects/audited/services/web/env",
        json={"API_KEY": "s3cr3t-value"},
        headers={"User-Agent": "audit-test/1", "X-Request-ID": "req-42"},
    )
    log = (await owner.get("/api/v1/projects/audited/audit")).json()["items"]
    actions = [r["action"] for r in log]
    assert actions[:4] == [
        "service.config_changed",
        "service.created",
        "member.added",  # the creator becomes the project's owner
        "project.created",
    ]
    change = log[0]
    assert change["actor"] == "owner@example.com"
    assert (change["user_agent"], change["request_id"]) == ("audit-test/1", "req-42")
    assert change["ip"]
    assert change["diff"]["names"] == ["API_KEY"]
    assert "s3cr3t-value" not in str(log)
    only = (
        await owner.get("/api/v1/projects/audited/audit", params={"action": "service.created"})
    ).json()["items"]
    assert [r["action"] for r in only] == ["service.created"]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        edit = await owner.request(method, "/api/v1/projects/audited/audit")
        assert edit.status_code == 405


async def test_member_roles_cannot_be_escalated(people: People) -> None:
    owner = await people.user("olive@example.com")
    await owner.post("/api/v1/projects", json={"name": "team"})
    admin = await people.user("adam@example.com")
    dev = await people.user("devon@example.com")
    for email, role in (("adam@example.com", "admin"), ("devon@example.com", "developer")):
        added = await owner.post(
            "/api/v1/projects/team/members", json={"email": email, "role": role}
        )
        assert added.status_code == 201
    members = "/api/v1/projects/team/members"
    assert (
        await dev.patch(f"{members}/devon@example.com", json={"role": "owner"})
    ).status_code == 403
    assert (
        await admin.patch(f"{members}/adam@example.com", json={"role": "owner"})
    ).status_code == 403
    assert (await admin.delete(f"{members}/olive@example.com")).status_code == 403
    assert (
        await admin.patch(f"{members}/devon@example.com", json={"role": "viewer"})
    ).status_code == 200
    assert (await owner.delete(f"{members}/olive@example.com")).status_code == 409  # last owner
    roles = {m["email"]: m["role"] for m in (await owner.get(members)).json()["items"]}
    assert roles == {
        "olive@example.com": "owner",
        "adam@example.com": "admin",
        "devon@example.com": "viewer",
    }


async def test_wrong_passwords_are_locked_out_for_a_while_not_for_ever(
    people: People, platform: Platform
) -> None:
    await people.sign_up("hank@example.com")
    anon = people.client()
    wrong = {"email": "hank@example.com", "password": "not the password at all"}
    statuses = [(await anon.post("/api/v1/auth/login", json=wrong)).status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    locked = await anon.post(
        "/api/v1/auth/login", json={"email": "hank@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    await asyncio.sleep(1.1)  # the lock ends (1 s in these tests): the right password works
    assert (
        await anon.post(
            "/api/v1/auth/login", json={"email": "hank@example.com", "password": PASSWORD}
        )
    ).status_code == 200
    unknown = await anon.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    assert (
        unknown.json()["detail"]
        == (
            await anon.post(
                "/api/v1/auth/login", json={"email": "ivy@example.com", "password": "x" * 12}
            )
        ).json()["detail"]
    )
    _ = httpx


async def test_signing_keys_rotate_with_overlap(people: People, platform: Platform) -> None:
    await people.sign_up("kim@example.com")
    old = (await people.login("kim@example.com"))["access_token"]
    async with platform.engine.begin() as conn:  # the key's signing time is over
        await conn.execute(update(signing_keys).values(retire_at=now() - timedelta(seconds=1)))
    new = (await people.login("kim@example.com"))["access_token"]
    kids = {k["kid"] for k in (await people.client().get("/.well-known/jwks.json")).json()["keys"]}
    assert len(kids) == 2  # the old key stays published while its tokens may live
    for token in (old, new):
        assert (await people.client(token).get("/api/v1/me")).status_code == 200
    async with platform.engine.begin() as conn:  # ... and leaves once they have all expired
        await conn.execute(
            update(signing_keys)
            .where(signing_keys.c.retire_at < now())
            .values(expire_at=now() - timedelta(seconds=1))
        )
    assert (await people.client(old).get("/api/v1/me")).status_code == 401
    assert (await people.client(new).get("/api/v1/me")).status_code == 200
