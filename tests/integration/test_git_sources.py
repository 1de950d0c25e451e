"""Git sources cannot reach what they must not, through the REST API.

The operator allows 127.0.0.2/32 (SKYFORGE_WEBHOOK_ALLOWED_NETWORKS) and lists `tmp_path`
as a local source directory (SKYFORGE_LOCAL_SOURCE_DIRS), which holds the data dir too.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from tests.integration.conftest import People
from tests.integration.git_http_server import GitServer, git_server
from tests.support import make_git_repo

from skyforge.adapters.sql.tables import services
from skyforge.bootstrap import Platform
from skyforge.config import Settings

P = "/api/v1/projects"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"webhook_allowed_networks": ["127.0.0.2/32"], "local_source_dirs": [tmp_path]}
    )


@pytest.fixture
def internal(tmp_path: Path) -> Iterator[GitServer]:
    """A git server on the control plane's own host (127.0.0.1): an attacker's target."""
    with git_server(tmp_path / "internal", "127.0.0.1") as server:
        server.add("app.git", make_git_repo(tmp_path / "internal-src", {"index.html": "x\n"}))
        yield server


@pytest.fixture
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository outside every directory the operator lists."""
    return make_git_repo(tmp_path_factory.mktemp("elsewhere") / "app", {"index.html": "hi\n"})


async def project_with_developer(people: People, name: str, email: str) -> httpx.AsyncClient:
    assert (await people.admin.post(P, json={"name": name})).status_code == 201
    developer = await people.user(email)
    member = {"email": email, "role": "developer"}
    assert (await people.admin.post(f"{P}/{name}/members", json=member)).status_code == 201
    return developer


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail: str = response.json()["detail"]
    return detail


HOSTILE = [
    ("http://127.0.0.1:{port}/app.git", "is a loopback address"),
    ("http://localhost:{port}/app.git", "resolves to a loopback address"),
    ("http://2130706433:{port}/app.git", "resolves to a loopback address"),
    ("http://[::1]:{port}/app.git", "is a loopback address"),
    ("http://[::ffff:127.0.0.1]:{port}/app.git", "loopback address (in an IPv6 form)"),
    ("https://169.254.169.254/latest/meta-data.git", "link-local address"),
    ("http://metadata.google.internal/app.git", "cloud metadata service"),
    ("https://10.1.2.3/shop.git", "is a private address"),
    ("https://user:pw@192.168.1.10/shop.git", "is a private address"),
    ("ssh://git@127.0.0.1:{port}/app.git", "is a loopback address"),
    ("git@10.0.0.7:shop/app.git", "is a private address"),
    ("git://127.0.0.1:{port}/app.git", "is a loopback address"),
    ("ssh://git:pw@git.example.invalid/app.git", "takes a login name only"),
]


async def test_a_source_on_an_internal_address_is_refused_and_never_fetched(
    api: httpx.AsyncClient, internal: GitServer
) -> None:
    await api.post(P, json={"name": "shop"})
    port = internal.url.rsplit(":", 1)[1]
    for url, reason in HOSTILE:
        body = {"name": "web", "source": {"git": url.format(port=port)}}
        detail = problem(await api.post(f"{P}/shop/services", json=body), 422)
        assert reason in detail and detail.startswith("git source: "), (url, detail)
    assert (await api.get(f"{P}/shop/services")).json()["items"] == []
    assert internal.seen == []


async def test_a_service_cannot_be_changed_to_an_internal_source(
    api: httpx.AsyncClient, internal: GitServer, static_repo: Path
) -> None:
    await api.post(P, json={"name": "shop"})
    await api.post(f"{P}/shop/services", json={"name": "web", "source": {"git": str(static_repo)}})
    port = internal.url.rsplit(":", 1)[1]
    for url, reason in HOSTILE:
        body = {"source": {"git": url.format(port=port), "branch": "main"}}
        detail = problem(await api.patch(f"{P}/shop/services/web", json=body), 422)
        assert reason in detail, (url, detail)
    shown = (await api.get(f"{P}/shop/services/web")).json()["source"]
    assert shown == {"git": str(static_repo), "branch": "main"}
    assert internal.seen == []


def push_to_data_dir(platform: Platform, tmp_path: Path) -> Path:
    """Team alpha's pushed code, where SkyForge keeps it: <data dir>/git/alpha/web.git."""
    work = make_git_repo(tmp_path / "alpha-work", {"index.html": "alpha's secret code\n"})
    bare = platform.git.repos.path("alpha", "web")
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


async def test_another_teams_pushed_code_cannot_be_a_source_for_anyone(
    people: People, platform: Platform, tmp_path: Path
) -> None:
    bare = push_to_data_dir(platform, tmp_path)
    developer = await project_with_developer(people, "beta", "dev@beta.example")
    link = tmp_path / "shared" / "innocent.git"
    link.parent.mkdir()
    link.symlink_to(bare)
    sources = [f"file://{bare}", str(bare), str(link), str(platform.settings.data_dir)]
    for caller in (developer, people.admin):  # the operator's admin token too
        for source in sources:
            body = {"name": "web", "source": {"git": source}}
            detail = problem(await caller.post(f"{P}/beta/services", json=body), 422)
            assert "data dir is never a source" in detail
    assert (await people.admin.get(f"{P}/beta/services")).json()["items"] == []


async def test_only_an_organization_admin_builds_from_a_local_path_outside_the_listed_dirs(
    people: People, elsewhere: Path, tmp_path: Path
) -> None:
    developer = await project_with_developer(people, "shop", "dev@shop.example")
    body = {"name": "web", "source": {"git": str(elsewhere)}}
    detail = problem(await developer.post(f"{P}/shop/services", json=body), 403)
    assert "only under the directories the operator lists" in detail
    as_url = {"name": "web", "source": {"git": f"file://{elsewhere}"}}
    problem(await developer.post(f"{P}/shop/services", json=as_url), 403)
    # Under a listed directory, a developer may.
    listed = make_git_repo(tmp_path / "shared" / "app", {"index.html": "hi\n"})
    ok = {"name": "listed", "source": {"git": str(listed)}}
    assert (await developer.post(f"{P}/shop/services", json=ok)).status_code == 201
    # A symlink under a listed directory that leads out of it does not count as under it.
    escape = tmp_path / "shared" / "escape"
    escape.symlink_to(elsewhere)
    out = {"name": "escape", "source": {"git": str(escape)}}
    problem(await developer.post(f"{P}/shop/services", json=out), 403)
    # Nor can a developer move an existing service there.
    patch = {"source": {"git": str(elsewhere), "branch": "main"}}
    problem(await developer.patch(f"{P}/shop/services/listed", json=patch), 403)
    # An organization admin may, and so may the operator's admin token.
    org_admin = await people.user("root@shop.example", org_role="admin")
    assert (await org_admin.post(f"{P}/shop/services", json=body)).status_code == 201
    other = {"name": "second", "source": {"git": str(elsewhere)}}
    assert (await people.admin.post(f"{P}/shop/services", json=other)).status_code == 201
    # ...and a developer may still change the branch of what an admin set up.
    branch = {"source": {"git": str(elsewhere), "branch": "main"}}
    assert (await developer.patch(f"{P}/shop/services/web", json=branch)).status_code == 200


async def wait_deploy(api: httpx.AsyncClient, path: str, deploy_id: str) -> dict[str, Any]:
    for _ in range(300):
        deploy: dict[str, Any] = (await api.get(f"{path}/deploys/{deploy_id}")).json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        await asyncio.sleep(0.1)
    raise AssertionError(f"deploy {deploy_id} did not finish")


async def test_a_stored_source_that_leads_into_the_data_dir_fails_to_deploy(
    api: httpx.AsyncClient, platform: Platform, static_repo: Path, tmp_path: Path
) -> None:
    bare = push_to_data_dir(platform, tmp_path)
    await api.post(P, json={"name": "beta"})
    await api.post(f"{P}/beta/services", json={"name": "web", "source": {"git": str(static_repo)}})
    # A value stored before sources were checked (or a path that became a symlink since).
    async with platform.engine.begin() as conn:
        await conn.execute(update(services).values(git_url=f"file://{bare}"))
    path = f"{P}/beta/services/web"
    started = (await api.post(f"{path}/deploys")).json()
    assert (await wait_deploy(api, path, started["id"]))["status"] == "failed"
    log = (await api.get(f"{path}/deploys/{started['id']}/logs")).text
    assert "data dir is never a source" in log
    assert "alpha's secret code" not in log
    slugs = platform.settings.data_dir / "slugs"
    assert not any(p.name == "index.html" for p in slugs.rglob("*"))
