"""Webhook subscriptions through the REST API: create (secret once), list, get, update,
delete, who may do what, and the targets that are refused (422, naming the reason).

Runs on SQLite and on PostgreSQL (the database_url fixture does both).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.integration.conftest import People

from skyforge.adapters.netguard import NetworkPolicy
from skyforge.bootstrap import Platform

P = "/api/v1/projects/shop"
HOOKS = f"{P}/webhooks"
# Names under .invalid never resolve (RFC 6761): accepted, checked again at every delivery.
URL = "https://hooks.example.invalid/skyforge?token=abc"


@pytest.fixture
async def shop(api: httpx.AsyncClient) -> httpx.AsyncClient:
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    return api


async def create(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post(HOOKS, json={"url": URL, "events": ["deploy.succeeded"], **body})


async def test_a_webhook_is_created_with_its_secret_shown_once(shop: httpx.AsyncClient) -> None:
    created = await create(shop, events=["deploy.succeeded", "deploy.failed", "deploy.succeeded"])
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    assert hook["events"] == ["deploy.succeeded", "deploy.failed"]
    assert hook["url"] == URL and hook["active"] is True and hook["project"] == "shop"
    listed = (await shop.get(HOOKS)).json()
    assert [h["id"] for h in listed["items"]] == [hook["id"]]
    assert "secret" not in listed["items"][0] and listed["next_cursor"] is None
    one = (await shop.get(f"{HOOKS}/{hook['id']}")).json()
    assert "secret" not in one and one["events"] == hook["events"]
    assert hook["secret"] not in (await shop.get(f"{P}/audit")).text


async def test_a_webhook_is_updated_and_deleted(shop: httpx.AsyncClient) -> None:
    hook = (await create(shop)).json()
    changed = await shop.patch(
        f"{HOOKS}/{hook['id']}",
        json={"events": ["*"], "active": False, "url": "https://other.example.invalid/x"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["active"]) == (["*"], False)
    assert changed.json()["url"] == "https://other.example.invalid/x"
    assert (await shop.delete(f"{HOOKS}/{hook['id']}")).status_code == 204
    gone = await shop.get(f"{HOOKS}/{hook['id']}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert (await shop.delete(f"{HOOKS}/{hook['id']}")).status_code == 404


async def test_events_in_the_audit_log_name_the_host_not_the_url(shop: httpx.AsyncClient) -> None:
    await create(shop)
    audit = (await shop.get(f"{P}/audit")).json()["items"]
    created = [a for a in audit if a["action"] == "webhook.created"]
    assert created and "hooks.example.invalid" in str(created[0])
    assert "token=abc" not in str(audit)


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"events": []}, ""),
    ({"events": ["no.such_event"]}, "not an event type"),
    ({"events": ["nosuch.*"]}, "not an event type"),
    ({"url": "ftp://example.com/x"}, "http:// or https://"),
    ({"url": "https://u:p@example.com/"}, "user name or password"),
    ({"url": "https://example.com/" + "x" * 3000}, ""),
    ({"url": 42}, ""),
    ({"unknown": 1}, ""),
]


async def test_bad_input_is_422(shop: httpx.AsyncClient) -> None:
    for body, why in BAD_INPUT:
        refused = await create(shop, **body)
        assert refused.status_code == 422, (body, refused.text)
        assert why in refused.text


INTERNAL: list[tuple[str, str]] = [
    ("http://127.0.0.1:9000/", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:8080/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[fd00::1]/", "private"),
    ("http://100.64.1.1/", "carrier-grade NAT"),
    ("http://0.0.0.0:80/", "unspecified"),
    ("http://localhost:8000/", "resolves to a loopback"),
    ("http://2130706433/", "loopback"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
]


async def test_internal_targets_are_refused_naming_the_reason(shop: httpx.AsyncClient) -> None:
    for url, why in INTERNAL:
        refused = await create(shop, url=url)
        assert refused.status_code == 422, (url, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert why in refused.json()["detail"], url
    assert (await shop.get(HOOKS)).json()["items"] == []


async def test_an_update_to_an_internal_target_is_refused(shop: httpx.AsyncClient) -> None:
    hook = (await create(shop)).json()
    refused = await shop.patch(f"{HOOKS}/{hook['id']}", json={"url": "http://10.0.0.1/"})
    assert refused.status_code == 422
    assert (await shop.get(f"{HOOKS}/{hook['id']}")).json()["url"] == URL


async def test_the_operator_may_allow_private_targets(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    platform.webhooks.use(NetworkPolicy.of(networks=["10.0.0.0/8"]))
    assert (await create(shop, url="http://10.1.2.3/hook")).status_code == 201
    assert (await create(shop, url="http://192.168.1.1/hook")).status_code == 422


METADATA = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://169.254.170.2/v2/credentials", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),
    ("http://100.100.100.200/latest/meta-data/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
]


async def test_allowing_private_targets_still_refuses_link_local_and_metadata_addresses(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    platform.webhooks.use(NetworkPolicy.of(allow_private=True))

    assert (await create(shop, url="http://10.1.2.3/hook")).status_code == 201
    assert (await create(shop, url="http://127.0.0.1:9/hook")).status_code == 201
    for url, why in METADATA:
        refused = await create(shop, url=url)
        assert refused.status_code == 422, (url, refused.text)
        assert why in refused.json()["detail"], url


async def test_a_link_local_network_listed_by_the_operator_is_allowed(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    platform.webhooks.use(
        NetworkPolicy.of(allow_private=True, networks=["169.254.0.0/16", "fe80::/10"])
    )

    for url in ("http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/"):
        assert (await create(shop, url=url)).status_code == 201, url
    assert (await create(shop, url="http://[fd00:ec2::254]/")).status_code == 422


async def test_a_missing_project_or_webhook_is_404(shop: httpx.AsyncClient) -> None:
    nowhere = await shop.post("/api/v1/projects/nope/webhooks", json={"url": URL, "events": ["*"]})
    assert nowhere.status_code == 404
    assert (await shop.get(f"{HOOKS}/01nosuchwebhook/deliveries")).status_code == 404
    assert (await shop.post(f"{HOOKS}/01nosuchwebhook/ping")).status_code == 404


async def test_viewers_read_webhooks_developers_manage_them(
    shop: httpx.AsyncClient, people: People
) -> None:
    hook = (await create(shop)).json()
    viewer = await people.user("viewer@example.com")
    developer = await people.user("dev@example.com")
    for email, role in (("viewer@example.com", "viewer"), ("dev@example.com", "developer")):
        added = await shop.post(f"{P}/members", json={"email": email, "role": role})
        assert added.status_code == 201, added.text
    assert (await viewer.get(HOOKS)).status_code == 200
    assert (await viewer.get(f"{HOOKS}/{hook['id']}/deliveries")).status_code == 200
    assert (await viewer.post(HOOKS, json={"url": URL, "events": ["*"]})).status_code == 403
    assert (await viewer.delete(f"{HOOKS}/{hook['id']}")).status_code == 403
    assert (await viewer.post(f"{HOOKS}/{hook['id']}/rotate-secret")).status_code == 403
    made = await developer.post(HOOKS, json={"url": URL, "events": ["*"]})
    assert made.status_code == 201
    assert (await developer.delete(f"{HOOKS}/{hook['id']}")).status_code == 204
    outsider = await people.user("outsider@example.com")
    assert (await outsider.get(HOOKS)).status_code == 404


async def test_the_delivery_log_is_paged_newest_first(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    hook = (await create(shop, events=["*"])).json()
    platform.webhooks.worker.concurrency = 0  # nothing is sent: only the log is looked at
    for _ in range(5):
        assert (await shop.post(f"{HOOKS}/{hook['id']}/ping")).status_code == 202
    first = (await shop.get(f"{HOOKS}/{hook['id']}/deliveries", params={"limit": 3})).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = (
        await shop.get(
            f"{HOOKS}/{hook['id']}/deliveries",
            params={"limit": 3, "cursor": first["next_cursor"]},
        )
    ).json()
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) >= 5
    assert ids == sorted(ids, reverse=True)
    assert all(d["status"] == "pending" and d["attempts"] == 0 for d in first["items"])
