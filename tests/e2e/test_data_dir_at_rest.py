"""What `skyforge up` keeps on disk: the data dir and every file in it are for its user alone,
whatever the umask it was started with, and no file holds a signing key, a log drain's token
or a secret value in plaintext (an app that reached the data dir read skyforge.db and took the
JWT signing key; the runtime's records held every decrypted secret)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"
SVC = "/api/v1/projects/shop/services/web"
SECRET = "sk_live_e2e-at-rest-5a0c77e1"
DRAIN_TOKEN = "e2e-drain-token-1f6b2d"
PRIVATE_JWK_MEMBER = re.compile(rb'"d"\s*:\s*"')
PASSWORD = "correct horse battery staple"
# Paths under the data dir that others may read, each with its reason. None today: once apps
# run as a uid of their own project, their slugs belong to that uid, still 0700/0600.
SHARED: dict[str, str] = {}
HARNESS = {"up.log"}  # the test harness's capture of `skyforge up`'s output, not SkyForge's


def everything_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.is_symlink())


def readable_by_others(root: Path) -> list[str]:
    found = []
    for path in [root, *everything_under(root)]:
        name = str(path.relative_to(root))
        mode = stat.S_IMODE(path.lstat().st_mode)
        if (
            mode & 0o077
            and name not in HARNESS
            and not any(name == s or name.startswith(s + "/") for s in SHARED)
        ):
            found.append(f"{name} {mode:o}")
    return found


def log_in_a_user(sf: SkyForge) -> str:
    api = sf.api()
    invited = api.post(
        "/api/v1/invitations", json={"email": "kim@example.com", "org_role": "member"}
    )
    body = {"email": "kim@example.com", "password": PASSWORD}
    signed = api.post(
        "/api/v1/auth/signup", json={**body, "invitation": invited.json()["token"], "name": "kim"}
    )
    assert signed.status_code == 201, signed.text
    session = httpx.post(f"{sf.url}/api/v1/auth/login", json=body)
    assert session.status_code == 200, session.text
    token: str = session.json()["access_token"]
    return token


def me(sf: SkyForge, token: str) -> int:
    return httpx.get(
        f"{sf.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ).status_code


def test_the_data_dir_is_private_and_holds_nothing_sensitive_in_plaintext(tmp_path: Path) -> None:
    sf = SkyForge(tmp_path / "data")
    umask = os.umask(0o022)  # what `skyforge up` inherits: files others could read
    try:
        sf.start()
    finally:
        os.umask(umask)
    try:
        api = sf.api()
        repo = make_git_repo(tmp_path / "probe", PROBE_APP)
        assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        service = {"name": "web", "source": {"git": str(repo)}}
        assert api.post("/api/v1/projects/shop/services", json=service).status_code == 201
        put = api.put("/api/v1/projects/shop/secrets/API_KEY", json={"value": SECRET})
        assert put.status_code == 201, put.text
        drain = f"https://93.184.215.14/ingest?token={DRAIN_TOKEN}"  # public: no lookup
        assert api.post(f"{SVC}/log-drains", json={"url": drain}).status_code == 201
        assert deploy_and_wait(api, "shop", "web")["status"] == "succeeded"
        sf.wait_for(HOST, lambda body: '"release": "v1"' in body)
        token = log_in_a_user(sf)
        assert me(sf, token) == 200

        loose = readable_by_others(sf.data_dir)
        assert not loose, "\n".join(loose)
        for path in everything_under(sf.data_dir):
            if path.is_file() and path.name != "master.keys":
                raw = path.read_bytes()
                assert SECRET.encode() not in raw, path
                assert DRAIN_TOKEN.encode() not in raw, path
        stores = [*sf.data_dir.glob("skyforge.db*"), *sf.data_dir.glob("run/*/*.json")]
        assert any(p.name.startswith("skyforge.db") for p in stores)
        assert any(p.parent.name == "instances" for p in stores)
        for path in stores:
            assert not PRIVATE_JWK_MEMBER.search(path.read_bytes()), path

        sf.stop()
        sf.start()
        assert me(sf, token) == 200  # the signing key, sealed, opens after a restart
    finally:
        sf.stop()
        for client in sf.clients:
            client.close()
