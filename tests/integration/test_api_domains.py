"""Custom domains through the REST API: add, verify, route, remove, and hostile hostnames.

Runs on SQLite and on PostgreSQL (the database_url fixture does both).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.integration.test_domain_verification import Zone

from skyforge.adapters.dns import DnsTxtVerifier, FakeVerifier
from skyforge.bootstrap import Platform
from skyforge.config import Settings
from skyforge.domains.ports import Verifiers
from skyforge.domains.verification import Check, Outcome
from skyforge.edge.base import Route
from skyforge.edge.null import NullEdge

P = "/api/v1/projects/shop"
DOMAINS = f"{P}/services/web/domains"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings, with a platform domain and an HTTPS port."""
    return settings.model_copy(
        update={"platform_domain": "apps.skyforge.test", "edge_https_port": 8443}
    )


@pytest.fixture
async def name_server() -> AsyncIterator[tuple[Zone, int]]:
    transport, zone = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Zone({}), local_addr=("127.0.0.1", 0)
    )
    try:
        yield zone, int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


@pytest.fixture
def fake(platform: Platform) -> FakeVerifier:
    verifier = FakeVerifier()
    platform.domains.verifiers = Verifiers(dns=FakeVerifier(), http=verifier)
    return verifier


@pytest.fixture
async def shop(api: httpx.AsyncClient, static_repo: Path) -> httpx.AsyncClient:
    for project in ("shop", "other"):
        assert (await api.post("/api/v1/projects", json={"name": project})).status_code == 201
        for name in ("web", "api"):
            created = await api.post(
                f"/api/v1/projects/{project}/services",
                json={"name": name, "source": {"git": str(static_repo)}},
            )
            assert created.status_code == 201, created.text
    return api


def edge_of(platform: Platform) -> NullEdge:
    edge = platform.edge.edge
    assert isinstance(edge, NullEdge)
    return edge


def route_of(platform: Platform, key: str = "shop.web") -> Route:
    return next(r for r in edge_of(platform).routes if r.key == key)


async def add(api: httpx.AsyncClient, hostname: str, **extra: Any) -> httpx.Response:
    return await api.post(DOMAINS, json={"hostname": hostname, **extra})


async def verify(api: httpx.AsyncClient, hostname: str) -> httpx.Response:
    return await api.post(f"{DOMAINS}/{quote(hostname, safe='')}/verify")


async def test_a_domain_is_added_pending_with_its_verification_records(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    added = await add(shop, "Shop.Example.COM.", redirect_https=True)

    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["hostname"], body["status"], body["verified_at"]) == (
        "shop.example.com",
        "pending",
        None,
    )
    token = body["verification"]["txt"]["value"].removeprefix("skyforge-verification=")
    assert body["verification"]["txt"]["name"] == "_skyforge-challenge.shop.example.com"
    assert body["verification"]["http_url"] == (
        f"http://shop.example.com/.well-known/skyforge/{token}"
    )
    assert edge_of(platform).tokens == {"shop.example.com": token}
    assert "shop.example.com" not in route_of(platform).hostnames


async def test_a_verified_domain_is_routed_with_tls_and_removal_drops_it_at_once(
    shop: httpx.AsyncClient, platform: Platform, fake: FakeVerifier
) -> None:
    token = (await add(shop, "shop.example.com", redirect_https=True)).json()["verification"]
    fake.published["shop.example.com"] = token["txt"]["value"].split("=", 1)[1]

    verified = await verify(shop, "shop.example.com")

    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "ready" and verified.json()["verified_at"]
    assert route_of(platform) == Route(
        "shop.web",
        ("web.shop.localhost", "shop.example.com"),
        tls=("shop.example.com",),
        redirect_https=("shop.example.com",),
    )
    assert edge_of(platform).tokens == {}
    listed = (await shop.get(DOMAINS)).json()["items"]
    assert [(d["hostname"], d["status"]) for d in listed] == [("shop.example.com", "ready")]

    removed = await shop.delete(f"{DOMAINS}/shop.example.com")

    assert removed.status_code == 204
    assert route_of(platform).hostnames == ("web.shop.localhost",)
    assert (await shop.get(DOMAINS)).json()["items"] == []


async def test_a_failed_check_says_why_and_may_be_retried(
    shop: httpx.AsyncClient, platform: Platform, fake: FakeVerifier
) -> None:
    await add(shop, "shop.example.com")
    fake.published["shop.example.com"] = "x" * 43

    failed = (await verify(shop, "shop.example.com")).json()
    fake.unreachable.add("shop.example.com")
    unreachable = (await verify(shop, "shop.example.com")).json()

    assert failed["status"] == "failed" and "different token" in failed["reason"]
    assert unreachable["status"] == "pending" and "did not answer" in unreachable["reason"]
    assert "shop.example.com" not in route_of(platform).hostnames


async def test_a_txt_record_on_a_real_name_server_verifies(
    shop: httpx.AsyncClient, platform: Platform, name_server: tuple[Zone, int]
) -> None:
    server, port = name_server
    platform.domains.verifiers = Verifiers(
        dns=DnsTxtVerifier(["127.0.0.1"], port=port, timeout=1, lifetime=2), http=FakeVerifier()
    )
    txt = (await add(shop, "shop.example.com")).json()["verification"]["txt"]
    server.records[txt["name"]] = [f'"{txt["value"]}"']

    verified = (await verify(shop, "shop.example.com")).json()

    assert verified["status"] == "ready", verified
    assert "shop.example.com" in route_of(platform).hostnames


HOSTILE = [
    "shop.example.com:8443",
    "shop.example.com/admin",
    "http://shop.example.com",
    "user@shop.example.com",
    "127.0.0.1",
    "[::1]",
    "2130706433.example.com.127.1",
    "localhost",
    "web.shop.localhost",
    "anything.apps.skyforge.test",
    "apps.skyforge.test",
    "\u0430\u0440\u0440\u04cf\u0435.com",  # "apple" in Cyrillic letters that look Latin
    "p\u0430ypal.com",  # one Cyrillic letter in a Latin name
    "*.example.com",
    "shop",
    "shop..example.com",
    " ",
    "a" * 2000,
]


@pytest.mark.parametrize("hostname", HOSTILE)
async def test_a_hostile_hostname_is_refused_and_nothing_changes(
    shop: httpx.AsyncClient, platform: Platform, hostname: str
) -> None:
    refused = await add(shop, hostname)

    assert refused.status_code == 422, refused.text
    assert (await shop.get(DOMAINS)).json()["items"] == []
    assert edge_of(platform).tokens == {}


OTHER = "/api/v1/projects/other/services/web/domains"


def token_of(added: httpx.Response) -> str:
    value: str = added.json()["verification"]["txt"]["value"]
    return value.removeprefix("skyforge-verification=")


async def test_a_pending_claim_does_not_block_another_projects_and_the_first_to_verify_wins(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    dns = FakeVerifier()
    platform.domains.verifiers = Verifiers(dns=dns, http=FakeVerifier())
    squatter = await shop.post(OTHER, json={"hostname": "shop.example.com"})  # never verified
    owner = await add(shop, "shop.example.com")
    sibling = await shop.post(f"{P}/services/api/domains", json={"hostname": "shop.example.com"})
    assert (squatter.status_code, owner.status_code) == (201, 201), owner.text
    assert sibling.status_code == 409  # one claim per project
    assert edge_of(platform).tokens == {}  # contested: the edge serves no one's HTTP token

    dns.published["shop.example.com"] = token_of(owner)  # the owner's TXT record
    verified = await verify(shop, "shop.example.com")
    losing = await shop.post(f"{OTHER}/shop.example.com/verify")
    late = await shop.post(OTHER, json={"hostname": "shop.example.com"})

    assert verified.status_code == 200 and verified.json()["status"] == "ready", verified.text
    assert "shop.example.com" in route_of(platform).hostnames
    assert "shop.example.com" not in route_of(platform, "other.web").hostnames
    for refused in (losing, late):
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"] == "shop.example.com is already in use"
    lost = (await shop.get(OTHER)).json()["items"]
    assert [(d["hostname"], d["status"]) for d in lost] == [("shop.example.com", "failed")]
    assert "already in use" in lost[0]["reason"]


async def test_a_contested_name_is_proven_by_its_txt_record_only(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    dns, http = FakeVerifier(), FakeVerifier()
    platform.domains.verifiers = Verifiers(dns=dns, http=http)
    squatter = await shop.post(OTHER, json={"hostname": "shop.example.com"})
    owner = await add(shop, "shop.example.com")
    # The name points at this edge, which would serve the token of whoever asked for it.
    http.published["shop.example.com"] = token_of(squatter)

    stolen = await shop.post(f"{OTHER}/shop.example.com/verify")
    dns.published["shop.example.com"] = token_of(owner)
    proven = await verify(shop, "shop.example.com")

    assert stolen.status_code == 200 and stolen.json()["status"] != "ready", stolen.text
    assert "only the DNS TXT record" in stolen.json()["reason"]
    assert proven.json()["status"] == "ready", proven.text


async def test_a_name_verified_by_another_project_is_in_use_and_cannot_be_taken(
    shop: httpx.AsyncClient, platform: Platform, fake: FakeVerifier
) -> None:
    first = await shop.post(OTHER, json={"hostname": "shop.example.com"})
    fake.published["shop.example.com"] = token_of(first)
    assert (await shop.post(f"{OTHER}/shop.example.com/verify")).json()["status"] == "ready"

    again = [await add(shop, spelling) for spelling in ("shop.example.com", "SHOP.example.com.")]
    stolen = await verify(shop, "shop.example.com")
    removed = await shop.delete(f"{DOMAINS}/shop.example.com")

    for refused in again:
        assert refused.status_code == 409
        assert refused.json()["detail"] == "shop.example.com is already in use"
        assert "other" not in refused.text
    assert (stolen.status_code, removed.status_code) == (404, 404)
    other = (await shop.get(OTHER)).json()["items"]
    assert [(d["hostname"], d["status"]) for d in other] == [("shop.example.com", "ready")]


async def test_two_services_of_one_project_adding_one_name_at_once_get_it_once(
    shop: httpx.AsyncClient,
) -> None:
    answers = await asyncio.gather(
        *(
            shop.post(f"/api/v1/projects/{p}/services/{s}/domains", json={"hostname": "a.b.com"})
            for p in ("shop", "other")
            for s in ("web", "api")
        )
    )

    assert sorted(a.status_code for a in answers) == [201, 201, 409, 409]


async def test_two_claims_verifying_at_once_make_one_winner(
    shop: httpx.AsyncClient, platform: Platform, fake: FakeVerifier
) -> None:
    claims = [await shop.post(path, json={"hostname": "a.b.com"}) for path in (DOMAINS, OTHER)]
    # Both proofs hold at once (a name server answering both tokens): the database decides.
    platform.domains.verifiers = Verifiers(dns=_Both([token_of(c) for c in claims]), http=fake)

    answers = await asyncio.gather(
        shop.post(f"{DOMAINS}/a.b.com/verify"), shop.post(f"{OTHER}/a.b.com/verify")
    )

    statuses = sorted(str(a.json().get("status", a.status_code)) for a in answers)
    assert statuses in (["failed", "ready"], ["409", "ready"]), [a.text for a in answers]
    ready = [
        d
        for path in (DOMAINS, OTHER)
        for d in (await shop.get(path)).json()["items"]
        if d["status"] == "ready"
    ]
    assert len(ready) == 1


class _Both(FakeVerifier):
    """A proof that holds for every token listed."""

    def __init__(self, tokens: list[str]) -> None:
        super().__init__()
        self.tokens = tokens

    async def verify(self, hostname: str, token: str) -> Check:
        await asyncio.sleep(0)
        if token in self.tokens:
            return Check(Outcome.VERIFIED, f"{hostname} publishes the token")
        return Check(Outcome.MISSING, "no")


async def test_a_domain_of_a_missing_service_or_an_unknown_hostname_is_not_found(
    shop: httpx.AsyncClient,
) -> None:
    missing_service = await shop.post(
        f"{P}/services/nope/domains", json={"hostname": "shop.example.com"}
    )
    unknown = await verify(shop, "unknown.example.com")
    invalid = await shop.delete(f"{DOMAINS}/{quote('a b', safe='')}")

    assert (missing_service.status_code, unknown.status_code) == (404, 404)
    assert invalid.status_code == 422
