"""Inbound GitHub and GitLab hooks: signed pushes deploy, pull requests get previews."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from tests.support import eventually

from skyforge.bootstrap import Platform
from skyforge.runtimes.null import NullRuntime

SERVICE = "/api/v1/projects/shop/services/web"


def head(repo: Path, ref: str = "HEAD") -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", ref], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def branch_with_commit(repo: Path, branch: str, files: dict[str, str]) -> str:
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "checkout", "-q", "-b", branch], check=True)
    for name, content in files.items():
        (repo / name).write_text(content)
    subprocess.run([*git, "commit", "-q", "-am", "feature"], check=True)
    sha = head(repo)
    subprocess.run([*git, "checkout", "-q", "main"], check=True)
    return sha


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> Path:
    """Project shop, service web built from static_repo's main; returns the repository."""
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    made = await api.post(
        "/api/v1/projects/shop/services",
        json={"name": "web", "source": {"git": str(static_repo), "branch": "main"}},
    )
    assert made.status_code == 201, made.text
    return static_repo


async def make_hook(api: httpx.AsyncClient, provider: str) -> dict[str, Any]:
    made = await api.post(f"{SERVICE}/hooks", json={"provider": provider})
    assert made.status_code == 201, made.text
    hook: dict[str, Any] = made.json()
    return hook


def github(
    hook: dict[str, Any], event: str, payload: dict[str, Any], **over: str
) -> dict[str, Any]:
    """A delivery as GitHub sends it: JSON body, HMAC-SHA256 signature, a delivery GUID."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc1234",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature,
        **over,
    }
    return {"content": body, "headers": headers}


def gitlab(
    hook: dict[str, Any], event: str, payload: dict[str, Any], **over: str
) -> dict[str, Any]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.0.0",
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": hook["secret"],
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": "https://gitlab.example.com",
        **over,
    }
    return {"content": json.dumps(payload).encode(), "headers": headers}


def github_push(sha: str, branch: str = "main") -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": sha,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {
            "id": 1,
            "full_name": "acme/shop",
            "clone_url": "https://github.com/acme/shop.git",
            "default_branch": "main",
        },
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "head_commit": {"id": sha, "message": "change"},
    }


def github_pull(action: str, number: int, branch: str, sha: str) -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "closed" if action == "closed" else "open",
            "merged": False,
            "head": {"ref": branch, "sha": sha, "repo": {"full_name": "acme/shop"}},
            "base": {"ref": "main", "sha": "1" * 40, "repo": {"full_name": "acme/shop"}},
        },
        "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"},
    }


async def finished(api: httpx.AsyncClient, service: str, deploy_id: str) -> dict[str, Any]:
    url = f"/api/v1/projects/shop/services/{service}/deploys/{deploy_id}"
    for _ in range(400):
        deploy: dict[str, Any] = (await api.get(url)).json()
        if deploy["status"] in ("succeeded", "failed", "cancelled"):
            return deploy
        await asyncio.sleep(0.05)
    raise AssertionError(f"deploy {deploy_id} did not finish")


async def test_a_signed_github_push_deploys_that_commit_and_a_replay_is_refused(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")
    delivery = github(hook, "push", github_push(head(shop)))
    hook_path = "/hooks/" + hook["id"]

    first = await api.post(hook_path, **delivery)
    again = await api.post(hook_path, **delivery)

    assert first.status_code == 202, first.text
    assert first.json()["action"] == "deploy"
    deploy = await finished(api, "web", first.json()["deploy_id"])
    assert deploy["status"] == "succeeded", deploy
    logs = (await api.get(f"{SERVICE}/deploys/{deploy['id']}/logs")).text
    assert f"Fetched commit {head(shop)[:12]}" in logs
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert hook["url"].endswith(hook_path)


async def test_a_bad_signature_is_401_and_an_unknown_hook_404(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")
    forged = github(hook, "push", github_push(head(shop)), **{"X-Hub-Signature-256": "sha256=00"})
    unsigned = github(hook, "push", github_push(head(shop)))
    del unsigned["headers"]["X-Hub-Signature-256"]
    tampered = github(hook, "push", github_push(head(shop)))
    tampered["content"] = tampered["content"].replace(b"main", b"prod")

    for delivery in (forged, unsigned, tampered):
        refused = await api.post("/hooks/" + hook["id"], **delivery)
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    unknown = await api.post("/hooks/01JUNKNOWNHOOK00000000000", **forged)
    assert unknown.status_code == 404
    assert (await api.get(f"{SERVICE}/deploys")).json()["items"] == []


async def test_a_ping_and_a_push_to_another_branch_do_nothing(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")

    ping = await api.post(
        "/hooks/" + hook["id"], **github(hook, "ping", {"zen": "Keep it simple."})
    )
    other = await api.post(
        "/hooks/" + hook["id"], **github(hook, "push", github_push(head(shop), "feature"))
    )

    assert ping.status_code == other.status_code == 200
    assert ping.json()["action"] == other.json()["action"] == "ignored"
    assert (await api.get(f"{SERVICE}/deploys")).json()["items"] == []


async def test_a_pull_request_gets_a_preview_service_until_it_is_closed(
    api: httpx.AsyncClient, shop: Path
) -> None:
    assert (await api.patch(f"{SERVICE}/env", json={"GREETING": "hi"})).status_code == 200
    hook = await make_hook(api, "github")
    sha = branch_with_commit(shop, "feature/login", {"index.html": "<h1>preview</h1>\n"})
    hook_path = "/hooks/" + hook["id"]

    opened = await api.post(
        hook_path, **github(hook, "pull_request", github_pull("opened", 7, "feature/login", sha))
    )

    assert opened.status_code == 202, opened.text
    assert opened.json()["service"] == "web-pr-7"
    deploy = await finished(api, "web-pr-7", opened.json()["deploy_id"])
    assert deploy["status"] == "succeeded", deploy
    preview = (await api.get("/api/v1/projects/shop/services/web-pr-7")).json()
    assert preview["source"] == {"git": str(shop), "branch": "feature/login"}
    assert preview["url"].startswith("http://web-pr-7.shop.localhost:")
    env = (await api.get("/api/v1/projects/shop/services/web-pr-7/env")).json()
    assert env == {"GREETING": "hi"}
    listed = (await api.get(f"{SERVICE}/previews")).json()["items"]
    assert [(p["name"], p["number"]) for p in listed] == [("web-pr-7", 7)]

    sha2 = branch_with_commit(shop, "feature/more", {"index.html": "<h1>more</h1>\n"})
    updated = await api.post(
        hook_path,
        **github(hook, "pull_request", github_pull("synchronize", 7, "feature/login", sha2)),
    )
    assert updated.status_code == 202
    assert (await finished(api, "web-pr-7", updated.json()["deploy_id"]))["status"] == "succeeded"
    logs = (
        await api.get(
            f"/api/v1/projects/shop/services/web-pr-7/deploys/{updated.json()['deploy_id']}/logs"
        )
    ).text
    assert f"Fetched commit {sha2[:12]}" in logs

    closed = await api.post(
        hook_path, **github(hook, "pull_request", github_pull("closed", 7, "feature/login", sha2))
    )

    assert closed.status_code == 200, closed.text
    assert closed.json()["action"] == "preview_deleted"
    assert (await api.get("/api/v1/projects/shop/services/web-pr-7")).status_code == 404
    assert (await api.get(f"{SERVICE}/previews")).json()["items"] == []


async def test_a_gitlab_push_with_the_token_deploys_and_a_wrong_token_is_refused(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "gitlab")
    payload = {
        "object_kind": "push",
        "event_name": "push",
        "before": "0" * 40,
        "after": head(shop),
        "ref": "refs/heads/main",
        "checkout_sha": head(shop),
        "project": {"path_with_namespace": "acme/shop", "default_branch": "main"},
    }
    hook_path = "/hooks/" + hook["id"]

    wrong = await api.post(
        hook_path, **gitlab(hook, "Push Hook", payload, **{"X-Gitlab-Token": "nope"})
    )
    delivery = gitlab(hook, "Push Hook", payload)
    first = await api.post(hook_path, **delivery)
    again = await api.post(hook_path, **delivery)

    assert wrong.status_code == 401
    assert first.status_code == 202, first.text
    assert (await finished(api, "web", first.json()["deploy_id"]))["status"] == "succeeded"
    assert again.status_code == 409


async def test_a_gitlab_merge_request_opens_and_merging_removes_its_preview(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "gitlab")
    sha = branch_with_commit(shop, "fix", {"index.html": "<h1>fix</h1>\n"})

    def merge_request(action: str) -> dict[str, Any]:
        attrs = {"iid": 3, "action": action, "source_branch": "fix", "target_branch": "main"}
        return {
            "object_kind": "merge_request",
            "object_attributes": {**attrs, "last_commit": {"id": sha}},
        }

    opened = await api.post(
        "/hooks/" + hook["id"], **gitlab(hook, "Merge Request Hook", merge_request("open"))
    )
    assert opened.status_code == 202, opened.text
    assert (await finished(api, "web-pr-3", opened.json()["deploy_id"]))["status"] == "succeeded"
    merged = await api.post(
        "/hooks/" + hook["id"], **gitlab(hook, "Merge Request Hook", merge_request("merge"))
    )

    assert merged.json()["action"] == "preview_deleted"
    assert (await api.get("/api/v1/projects/shop/services/web-pr-3")).status_code == 404


async def test_hooks_are_listed_without_their_secret_and_a_deleted_hook_is_gone(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")

    listed = (await api.get(f"{SERVICE}/hooks")).json()["items"]
    deleted = await api.delete(f"{SERVICE}/hooks/{hook['id']}")
    after = await api.post("/hooks/" + hook["id"], **github(hook, "push", github_push(head(shop))))

    assert [(h["id"], h["provider"]) for h in listed] == [(hook["id"], "github")]
    assert "secret" not in listed[0]
    assert deleted.status_code == 204
    assert after.status_code == 404
    bad = await api.post(f"{SERVICE}/hooks", json={"provider": "bitbucket"})
    assert bad.status_code == 422


async def test_a_form_encoded_github_push_deploys_and_a_delivery_that_failed_may_come_again(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")
    form = urlencode({"payload": json.dumps(github_push(head(shop)))}).encode()
    delivery = github(hook, "push", {})
    delivery["content"] = form
    delivery["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    delivery["headers"]["X-Hub-Signature-256"] = (
        "sha256=" + hmac.new(hook["secret"].encode(), form, hashlib.sha256).hexdigest()
    )
    broken = github(hook, "pull_request", github_pull("opened", 9, "bad..branch", head(shop)))

    pushed = await api.post("/hooks/" + hook["id"], **delivery)
    first = await api.post("/hooks/" + hook["id"], **broken)
    again = await api.post("/hooks/" + hook["id"], **broken)

    assert pushed.status_code == 202, pushed.text
    assert first.status_code == again.status_code == 422, again.text
    assert "branch" in again.json()["detail"]


async def test_github_hook_secrets_survive_master_key_rotations(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")

    for _ in range(2):  # the second retires the key the secret was first sealed under
        rotated = await api.post("/api/v1/secrets/rotate-key")
        assert rotated.status_code == 200, rotated.text
    delivery = await api.post(
        "/hooks/" + hook["id"], **github(hook, "push", github_push(head(shop)))
    )

    assert delivery.status_code == 202, delivery.text
    assert rotated.json()["retired"]


async def test_a_signed_delivery_nested_100000_deep_is_refused_not_a_500(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")
    deep = github(hook, "push", {})
    deep["content"] = b'{"ref":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    deep["headers"]["X-Hub-Signature-256"] = (
        "sha256=" + hmac.new(hook["secret"].encode(), deep["content"], hashlib.sha256).hexdigest()
    )
    form = urlencode({"payload": "[" * 100_000 + "]" * 100_000}).encode()
    deep_form = github(hook, "push", {})
    deep_form["content"] = form
    deep_form["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    deep_form["headers"]["X-Hub-Signature-256"] = (
        "sha256=" + hmac.new(hook["secret"].encode(), form, hashlib.sha256).hexdigest()
    )

    for delivery in (deep, deep_form):
        refused = await api.post("/hooks/" + hook["id"], **delivery)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "nested" in refused.json()["detail"]
    assert (await api.get(f"{SERVICE}/deploys")).json()["items"] == []


async def test_a_pull_request_update_to_an_invalid_head_branch_is_refused_by_the_hook(
    api: httpx.AsyncClient, shop: Path
) -> None:
    hook = await make_hook(api, "github")
    sha = branch_with_commit(shop, "feature", {"index.html": "<h1>preview</h1>\n"})
    hook_path = "/hooks/" + hook["id"]
    opened = await api.post(
        hook_path, **github(hook, "pull_request", github_pull("opened", 5, "feature", sha))
    )
    assert opened.status_code == 202, opened.text
    assert (await finished(api, "web-pr-5", opened.json()["deploy_id"]))["status"] == "succeeded"

    for branch in ("--upload-pack=touch /tmp/x", "bad..branch", "feature.lock", "a b"):
        updated = await api.post(
            hook_path, **github(hook, "pull_request", github_pull("synchronize", 5, branch, sha))
        )
        assert updated.status_code == 422, updated.text
        assert "branch" in updated.json()["detail"]
    deploys = (await api.get("/api/v1/projects/shop/services/web-pr-5/deploys")).json()["items"]
    assert len(deploys) == 1


def rollouts_of(platform: Platform, service: str) -> list[dict[str, str]]:
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    return [r.env for r in runtime.rollouts if r.key == f"shop.{service}"]


async def test_a_pull_request_from_a_fork_gets_a_preview_with_config_vars_but_no_secrets(
    api: httpx.AsyncClient, shop: Path, platform: Platform
) -> None:
    assert (await api.patch(f"{SERVICE}/env", json={"GREETING": "hi"})).status_code == 200
    put = await api.put("/api/v1/projects/shop/secrets/API_KEY", json={"value": "s3cret-value"})
    assert put.status_code == 201, put.text
    hook = await make_hook(api, "github")
    sha = branch_with_commit(shop, "patch-1", {"index.html": "<h1>fork</h1>\n"})
    from_fork = github_pull("opened", 8, "patch-1", sha)
    from_fork["pull_request"]["head"]["repo"] = {"full_name": "mallory/shop", "fork": True}
    gone_fork = github_pull("opened", 10, "patch-1", sha)
    gone_fork["pull_request"]["head"]["repo"] = None  # the fork was deleted
    same_repo = github_pull("opened", 9, "patch-1", sha)

    for payload in (from_fork, gone_fork, same_repo):
        opened = await api.post("/hooks/" + hook["id"], **github(hook, "pull_request", payload))
        assert opened.status_code == 202, opened.text
        done = await finished(api, opened.json()["service"], opened.json()["deploy_id"])
        assert done["status"] == "succeeded", done

    # (The reconciler may roll a release out again: every rollout counts, however many.)
    for fork in ("web-pr-8", "web-pr-10"):
        assert {env.get("GREETING") for env in rollouts_of(platform, fork)} == {"hi"}
        assert {env.get("API_KEY") for env in rollouts_of(platform, fork)} == {None}
    assert {env.get("API_KEY") for env in rollouts_of(platform, "web-pr-9")} == {"s3cret-value"}

    # A secret changed later rolls out to the services that see it: never to a fork's preview.
    await api.put("/api/v1/projects/shop/secrets/API_KEY", json={"value": "rotated-value"})
    await eventually(
        lambda: (
            [e.get("API_KEY") for e in rollouts_of(platform, "web-pr-9")][-1:] == ["rotated-value"]
        )
    )
    assert all("API_KEY" not in env for env in rollouts_of(platform, "web-pr-8"))


async def test_a_gitlab_merge_request_from_another_project_gets_no_secrets(
    api: httpx.AsyncClient, shop: Path, platform: Platform
) -> None:
    await api.put("/api/v1/projects/shop/secrets/API_KEY", json={"value": "s3cret-value"})
    hook = await make_hook(api, "gitlab")
    sha = branch_with_commit(shop, "fix", {"index.html": "<h1>fix</h1>\n"})
    attrs = {"iid": 4, "action": "open", "source_branch": "fix", "target_branch": "main"}
    payload = {
        "object_kind": "merge_request",
        "object_attributes": {
            **attrs,
            "source_project_id": 77,
            "target_project_id": 1,
            "last_commit": {"id": sha},
        },
    }

    opened = await api.post("/hooks/" + hook["id"], **gitlab(hook, "Merge Request Hook", payload))

    assert opened.status_code == 202, opened.text
    assert (await finished(api, "web-pr-4", opened.json()["deploy_id"]))["status"] == "succeeded"
    assert {env.get("API_KEY") for env in rollouts_of(platform, "web-pr-4")} == {None}
