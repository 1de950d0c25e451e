"""Domain use cases with fakes: which checks run, and what each outcome leaves (no I/O)."""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Self

import pytest

from skyforge.adapters.dns import FakeVerifier
from skyforge.domains import handlers
from skyforge.domains.commands import AddDomain, RemoveDomain, VerifyDomain
from skyforge.domains.events import DomainAdded, DomainVerificationFailed, DomainVerified
from skyforge.domains.model import Domain, Status
from skyforge.domains.ports import DomainRules, ServiceRef, Verifiers
from skyforge.kernel.errors import Conflict, Invalid, NotFound
from skyforge.kernel.messages import Event

RULES = DomainRules(("apps.example.net",), allow_wildcard=True)
WEB = ServiceRef("svc-web", "web", "prj-shop", "shop")


class FakeDomains:
    """Claims by id; one per hostname and project, at most one ready per hostname."""

    def __init__(self) -> None:
        self.rows: dict[str, Domain] = {}

    async def claims(self, hostname: str, *, for_update: bool = False) -> list[Domain]:
        return [dataclasses.replace(d) for d in self.rows.values() if d.hostname == hostname]

    async def add(self, domain: Domain) -> None:
        if any(
            (d.hostname, d.project_id) == (domain.hostname, domain.project_id)
            for d in self.rows.values()
        ):
            raise Conflict("taken")
        self.rows[domain.id] = dataclasses.replace(domain)

    async def save(self, domain: Domain) -> None:
        if domain.status is Status.READY and any(
            d.hostname == domain.hostname and d.id != domain.id and d.status is Status.READY
            for d in self.rows.values()
        ):
            raise Conflict("taken")
        self.rows[domain.id] = dataclasses.replace(domain)

    async def remove(self, domain_id: str) -> None:
        self.rows.pop(domain_id, None)

    async def of_service(self, service_id: str) -> list[Domain]:
        return [d for d in self.rows.values() if d.service_id == service_id]

    async def all(self) -> list[Domain]:
        return list(self.rows.values())


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.domains = FakeDomains()
        self.events: list[Event] = []
        self.committed: list[Event] = []

    async def __aenter__(self) -> Self:
        self.events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def emit(self, event: Event) -> None:
        self.events.append(event)

    async def commit(self) -> None:
        self.committed += self.events
        self.events = []


async def find_service(project: str, name: str) -> ServiceRef:
    if (project, name) != ("shop", "web"):
        raise NotFound("no such service")
    return WEB


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


async def added(uow: FakeUnitOfWork, hostname: str = "shop.example.com") -> Domain:
    return await handlers.add_domain(AddDomain("shop", "web", hostname), uow, find_service, RULES)


async def verify(
    uow: FakeUnitOfWork, dns: FakeVerifier, http: FakeVerifier, hostname: str = "shop.example.com"
) -> Domain:
    command = VerifyDomain("shop", "web", hostname)
    return await handlers.verify_domain(command, uow, find_service, RULES, Verifiers(dns, http))


async def test_a_new_domain_is_pending_with_a_fresh_token(uow: FakeUnitOfWork) -> None:
    one, two = await added(uow), await added(uow, "B\u00fccher.example.com")

    assert (one.status, one.hostname, two.hostname) == (
        Status.PENDING,
        "shop.example.com",
        "xn--bcher-kva.example.com",
    )
    assert one.token != two.token and len(one.token) >= 43
    assert [type(e) for e in uow.committed] == [DomainAdded, DomainAdded]


async def test_a_taken_or_platform_name_is_refused(uow: FakeUnitOfWork) -> None:
    await added(uow)
    with pytest.raises(Conflict, match="already in use"):
        await added(uow, "SHOP.example.com")
    with pytest.raises(Invalid):
        await added(uow, "shop.apps.example.net")


async def test_a_dns_record_verifies_without_asking_http(uow: FakeUnitOfWork) -> None:
    domain = await added(uow)
    dns, http = FakeVerifier({domain.hostname: domain.token}), FakeVerifier()

    ready = await verify(uow, dns, http)

    assert ready.status is Status.READY and ready.verified_at is not None
    assert http.checked == []
    assert isinstance(uow.committed[-1], DomainVerified)


async def test_the_http_token_verifies_when_there_is_no_dns_record(uow: FakeUnitOfWork) -> None:
    domain = await added(uow)

    ready = await verify(uow, FakeVerifier(), FakeVerifier({domain.hostname: domain.token}))

    assert ready.status is Status.READY


async def test_a_wildcard_is_never_proven_over_http(uow: FakeUnitOfWork) -> None:
    domain = await added(uow, "*.example.org")
    http = FakeVerifier({domain.hostname: domain.token})

    failed = await verify(uow, FakeVerifier(), http, "*.example.org")

    assert failed.status is Status.FAILED and http.checked == []


async def test_a_wrong_token_fails_with_the_reason_and_a_retry_may_succeed(
    uow: FakeUnitOfWork,
) -> None:
    domain = await added(uow)
    http = FakeVerifier({domain.hostname: "x" * 43})

    failed = await verify(uow, FakeVerifier(), http)
    http.published[domain.hostname] = domain.token
    ready = await verify(uow, FakeVerifier(), http)

    assert failed.status is Status.FAILED and "different token" in (failed.reason or "")
    assert isinstance(uow.committed[1], DomainVerificationFailed)
    assert ready.status is Status.READY


async def test_no_answer_leaves_the_domain_pending(uow: FakeUnitOfWork) -> None:
    domain = await added(uow)
    http = FakeVerifier({domain.hostname: "x" * 43})
    http.unreachable.add(domain.hostname)

    pending = await verify(uow, FakeVerifier(), http)

    assert pending.status is Status.PENDING and "did not answer" in (pending.reason or "")
    assert [type(e) for e in uow.committed] == [DomainAdded]


async def test_another_service_cannot_verify_or_remove_a_domain(uow: FakeUnitOfWork) -> None:
    domain = await added(uow)
    uow.domains.rows[domain.id].service_id = "svc-other"

    with pytest.raises(NotFound):
        await verify(uow, FakeVerifier({domain.hostname: domain.token}), FakeVerifier())
    with pytest.raises(NotFound):
        await handlers.remove_domain(
            RemoveDomain("shop", "web", domain.hostname), uow, find_service, RULES
        )
    assert uow.domains.rows[domain.id].status is Status.PENDING
