"""Every cell of the permission matrix, through the API, as a member of each role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.conftest import People

from skyforge.adapters.dbprovision import FakeProvisioner, LocalBackupStore
from skyforge.adapters.dbprovision.servers import EngineServers
from skyforge.bootstrap import Platform
from skyforge.identity.permissions import MATRIX, Role, role_allows

ROOT = Path(__file__).resolve().parents[2]
# action -> the API call that needs it (method, path under /api/v1/projects/{p}, body)
CALLS: dict[str, tuple[str, str, Any]] = {
    "project.read": ("GET", "", None),
    "project.delete": ("DELETE", "", None),
    "service.read": ("GET", "/services/web", None),
    "service.create": (
        "POST",
        "/services",
        {"name": "new", "source": {"git": "https://93.184.215.14/x.git"}},  # public: no lookup
    ),
    "service.update": ("PATCH", "/services/web", {"health_check_path": "/up"}),
    "service.delete": ("DELETE", "/services/web", None),
    "service.deploy": ("POST", "/services/web/deploys", None),
    "service.logs": ("GET", "/services/web/logs", None),
    "config.read": ("GET", "/services/web/env", None),
    "config.write": ("PATCH", "/services/web/env", {"A": "1"}),
    "secret.read": ("GET", "/secrets/API_KEY/value", None),
    "secret.write": ("PUT", "/secrets/NEW_KEY", {"value": "s3cret"}),
    "database.read": ("GET", "/databases/cache", None),
    "database.manage": ("POST", "/databases", {"name": "new", "engine": "redis"}),
    "database.delete": ("DELETE", "/databases/cache", {"confirm": "cache"}),
    "domain.read": ("GET", "/services/web/domains", None),
    "domain.manage": ("POST", "/services/web/domains", {"hostname": "shop.example.com"}),
    "hook.manage": ("POST", "/services/web/hooks", {"provider": "github"}),
    "logdrain.read": ("GET", "/services/web/log-drains", None),
    "logdrain.manage": (
        "POST",
        "/services/web/log-drains",
        {"url": "syslog+tls://93.184.215.14:6514"},  # a public address: no lookup, no refusal
    ),
    "webhook.read": ("GET", "/webhooks", None),
    "webhook.manage": (
        "POST",
        "/webhooks",
        {"url": "https://hooks.example.invalid/x", "events": ["*"]},
    ),
    "member.read": ("GET", "/members", None),
    "member.manage": ("POST", "/members", {"email": "bystander@example.com", "role": "viewer"}),
    "audit.read": ("GET", "/audit", None),
}


def test_every_action_of_the_matrix_is_driven_by_this_test() -> None:
    assert set(MATRIX) - {"project.create"} == set(CALLS)


def test_the_readme_documents_the_matrix_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    for action, (_, scope) in MATRIX.items():
        cells = ["yes" if role_allows(r, action) else "-" for r in Role]
        assert f"| `{action}` | {' | '.join(cells)} | {scope.value} |" in readme, action


async def call(client: httpx.AsyncClient, project: str, action: str) -> httpx.Response:
    method, path, body = CALLS[action]
    return await client.request(method, f"/api/v1/projects/{project}{path}", json=body)


@pytest.mark.parametrize("role", list(Role))
async def test_a_member_may_do_exactly_what_their_role_allows(
    people: People, role: Role, static_repo: Path, platform: Platform, tmp_path: Path
) -> None:
    fakes = {"postgres": FakeProvisioner(), "redis": FakeProvisioner(engine="redis")}
    platform.databases.use(EngineServers(fakes, None, LocalBackupStore(tmp_path), tmp_path))
    member = await people.user(f"{role.value}@example.com")
    await people.sign_up("bystander@example.com")
    for number, action in enumerate(CALLS):
        project = f"p{number}"
        assert (await people.admin.post("/api/v1/projects", json={"name": project})).is_success
        service = {"name": "web", "source": {"git": str(static_repo)}}
        await people.admin.post(f"/api/v1/projects/{project}/services", json=service)
        await people.admin.put(f"/api/v1/projects/{project}/secrets/API_KEY", json={"value": "k"})
        cache = {"name": "cache", "engine": "redis"}
        made = await people.admin.post(f"/api/v1/projects/{project}/databases", json=cache)
        assert made.status_code == 202, made.text
        added = await people.admin.post(
            f"/api/v1/projects/{project}/members",
            json={"email": f"{role.value}@example.com", "role": role.value},
        )
        assert added.status_code == 201, added.text
        response = await call(member, project, action)
        if role_allows(role, action):
            assert response.status_code in (200, 201, 202, 204), (action, response.text)
        else:
            assert response.status_code == 403, (action, response.text)
            assert response.headers["content-type"] == "application/problem+json"


async def test_nobody_sees_a_project_they_are_not_a_member_of(people: People) -> None:
    await people.admin.post("/api/v1/projects", json={"name": "secret-plans"})
    outsider = await people.user("outsider@example.com")
    for action in CALLS:
        missing = await call(outsider, "secret-plans", action)
        nonexistent = await call(outsider, "no-such-project", action)
        assert missing.status_code == nonexistent.status_code == 404, action
        assert missing.json()["detail"].replace("secret-plans", "X") == (
            nonexistent.json()["detail"].replace("no-such-project", "X")
        )
    listed = (await outsider.get("/api/v1/projects")).json()["items"]
    assert listed == []


async def test_the_creator_of_a_project_becomes_its_owner(people: People) -> None:
    alice = await people.user("alice@example.com")
    assert (await alice.post("/api/v1/projects", json={"name": "mine"})).status_code == 201
    members = (await alice.get("/api/v1/projects/mine/members")).json()["items"]
    assert [(m["email"], m["role"]) for m in members] == [("alice@example.com", "owner")]
    assert [p["name"] for p in (await alice.get("/api/v1/projects")).json()["items"]] == ["mine"]
