"""Nothing sensitive is stored in plaintext: whoever reads the database (as a hostile app read
skyforge.db) finds no JWT signing key, no log drain token and no secret value; rotations and
restarts keep everything working."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select
from tests.conftest import TOKEN
from tests.integration.conftest import People
from tests.support import (
    client_of,
    eventually,
    make_git_repo,
    stored_bytes,
    ticking_app,
)

from skyforge.adapters.sql.tables import log_drains, signing_keys
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.identity.model import SigningKey
from skyforge.runtimes.local.registry import Registry

P = "/api/v1/projects"
SECRET = "sk_live_the-other-teams-secret-4f9c2a"
DRAIN_TOKEN = "drain-token-7d1e0b93c2"
DRAIN_URL = f"https://93.184.215.14/ingest?token={DRAIN_TOKEN}"  # public: no lookup, no refusal
PRIVATE_JWK_MEMBER = re.compile(rb'"d"\s*:\s*"')


async def keys(platform: Platform) -> list[SigningKey]:
    async with platform.uow() as uow:
        return await uow.signing_keys.all()


async def a_team_with_a_secret_and_a_drain(people: People, repo: Path) -> None:
    admin = people.admin
    assert (await admin.post(P, json={"name": "vault"})).status_code == 201
    put = await admin.put(f"{P}/vault/secrets/API_KEY", json={"value": SECRET})
    assert put.status_code == 201, put.text
    service = {"name": "web", "source": {"git": str(repo), "branch": "main"}}
    assert (await admin.post(f"{P}/vault/services", json=service)).status_code == 201
    drain = await admin.post(f"{P}/vault/services/web/log-drains", json={"url": DRAIN_URL})
    assert drain.status_code == 201, drain.text


async def test_reading_the_database_yields_no_signing_key_drain_token_or_secret(
    people: People, platform: Platform, settings: Settings, static_repo: Path
) -> None:
    """The finding: an app read skyforge.db and took the JWT signing key (stored in plaintext)
    to sign itself an organization-admin token."""
    await a_team_with_a_secret_and_a_drain(people, static_repo)
    await people.sign_up("dev@example.com")
    await people.login("dev@example.com")  # a signing key exists from here on
    [key] = await keys(platform)
    private = platform.signer.private_jwk(key)

    raw = await stored_bytes(platform.engine, settings.db_url)

    assert key.kid.encode() in raw  # the rows are there: the test reads the right thing
    assert not PRIVATE_JWK_MEMBER.search(raw), "a private JWK is stored in plaintext"
    assert private["d"].encode() not in raw
    assert DRAIN_TOKEN.encode() not in raw
    assert SECRET.encode() not in raw


async def test_drain_urls_are_shown_to_developers_and_above_only(
    people: People, static_repo: Path
) -> None:
    await a_team_with_a_secret_and_a_drain(people, static_repo)
    for email, role in (("dev@example.com", "developer"), ("view@example.com", "viewer")):
        await people.sign_up(email)
        added = await people.admin.post(f"{P}/vault/members", json={"email": email, "role": role})
        assert added.status_code == 201, added.text
    dev = people.client((await people.login("dev@example.com"))["access_token"])
    viewer = people.client((await people.login("view@example.com"))["access_token"])
    drains = "/api/v1/projects/vault/services/web/log-drains"

    assert [d["url"] for d in (await dev.get(drains)).json()["items"]] == [DRAIN_URL]
    assert (await viewer.get(drains)).status_code == 403


def key_ids_of(platform: Platform, blobs: list[bytes]) -> set[str]:
    return {platform.webhooks.blobs.key_id(b) for b in blobs}


async def sealed_blobs(platform: Platform) -> list[bytes]:
    async with platform.engine.connect() as conn:
        found = [r[0] for r in await conn.execute(select(signing_keys.c.sealed_private_jwk))]
        found += [r[0] for r in await conn.execute(select(log_drains.c.sealed_url))]
    return found


async def test_a_master_key_rotation_reseals_signing_keys_and_drain_urls(
    people: People, platform: Platform, settings: Settings, static_repo: Path
) -> None:
    await a_team_with_a_secret_and_a_drain(people, static_repo)
    await people.sign_up("kim@example.com")
    session = await people.login("kim@example.com")
    kim = people.client(session["access_token"])
    [first] = key_ids_of(platform, await sealed_blobs(platform))

    for _ in range(2):  # the second rotation retires the key the first one left in use
        rotated = await people.admin.post("/api/v1/secrets/rotate-key")
        assert rotated.status_code == 200, rotated.text
        active = rotated.json()["active_key_id"]
        blobs = await sealed_blobs(platform)
        assert len(blobs) == 2 and key_ids_of(platform, blobs) == {active}

    assert first in rotated.json()["retired"]
    keyring = json.loads((settings.data_dir / "master.keys").read_text())
    assert first not in keyring["keys"]
    assert (await kim.get("/api/v1/me")).status_code == 200  # the same key, resealed
    again = people.client((await people.login("kim@example.com"))["access_token"])
    assert (await again.get("/api/v1/me")).status_code == 200
    listed = await people.admin.get(f"{P}/vault/services/web/log-drains")
    assert [d["url"] for d in listed.json()["items"]] == [DRAIN_URL]


async def test_a_login_and_its_refresh_token_work_across_a_restart(settings: Settings) -> None:
    first = Platform(settings)
    await first.start(background=False)
    try:
        async with client_of(first, TOKEN) as admin:
            invited = await admin.post(
                "/api/v1/invitations", json={"email": "kim@example.com", "org_role": "member"}
            )
            body = {"email": "kim@example.com", "password": "correct horse battery staple"}
            signed = await admin.post(
                "/api/v1/auth/signup",
                json={**body, "invitation": invited.json()["token"], "name": "kim"},
            )
            assert signed.status_code == 201, signed.text
            session = (await admin.post("/api/v1/auth/login", json=body)).json()
    finally:
        await first.stop()

    second = Platform(settings)
    await second.start(background=False)
    try:
        async with client_of(second, session["access_token"]) as kim:
            assert (await kim.get("/api/v1/me")).status_code == 200
            renewed = await kim.post(
                "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
            )
            assert renewed.status_code == 200, renewed.text
            kim.headers["Authorization"] = f"Bearer {renewed.json()['access_token']}"
            assert (await kim.get("/api/v1/me")).status_code == 200
    finally:
        await second.stop()


async def test_a_master_key_rotation_reseals_the_local_runtimes_records(
    settings: Settings, tmp_path: Path
) -> None:
    local = settings.model_copy(update={"runtime": "local", "drain_seconds": 0.1, "stop_grace": 2})
    platform = Platform(local)
    await platform.start()
    try:
        async with client_of(platform, TOKEN) as api:
            repo = make_git_repo(tmp_path / "ticking", ticking_app(1.0))
            assert (await api.post(P, json={"name": "shop"})).status_code == 201
            service = {"name": "web", "source": {"git": str(repo), "branch": "main"}}
            assert (await api.post(f"{P}/shop/services", json=service)).status_code == 201
            deploy = (await api.post(f"{P}/shop/services/web/deploys")).json()
            url = f"{P}/shop/services/web/deploys/{deploy['id']}"

            async def finished() -> bool:
                return (await api.get(url)).json()["status"] in ("succeeded", "failed")

            await eventually(finished, timeout=60)
            assert (await api.get(url)).json()["status"] == "succeeded"
            records = Registry(local.data_dir / "run")  # the data dir's key file
            await eventually(records.key_ids)
            [first] = records.key_ids()
            for _ in range(2):
                rotated = await api.post("/api/v1/secrets/rotate-key")
                assert rotated.status_code == 200, rotated.text
                assert records.key_ids() == {rotated.json()["active_key_id"]}
            assert first in rotated.json()["retired"]
            assert [r.type for r in records.load()] == ["web"]  # readable with today's keys
    finally:
        await platform.stop()
