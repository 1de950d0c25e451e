"""Domain use cases: add a hostname to a service, verify it, remove it."""

from __future__ import annotations

from skyforge.domains.commands import AddDomain, RemoveDomain, VerifyDomain
from skyforge.domains.events import (
    DomainAdded,
    DomainRemoved,
    DomainVerificationFailed,
    DomainVerified,
)
from skyforge.domains.hostnames import normalize_hostname
from skyforge.domains.model import Domain, Status
from skyforge.domains.ports import DomainRules, DomainsUnitOfWork, FindService, Verifiers
from skyforge.domains.verification import Check, Outcome, new_token
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, NotFound
from skyforge.kernel.ids import new_id

IN_USE = "already in use"


def hostname_of(value: str, rules: DomainRules) -> str:
    """The normalized hostname, else Invalid saying why."""
    return normalize_hostname(
        value, platform_suffixes=rules.platform_suffixes, allow_wildcard=rules.allow_wildcard
    )


def _mine(claims: list[Domain], service_id: str, hostname: str) -> Domain:
    domain = next((d for d in claims if d.service_id == service_id), None)
    if domain is None:
        raise NotFound(f"the service has no domain {hostname!r}")
    return domain


async def _of_service(
    uow: DomainsUnitOfWork, service_id: str, hostname: str, lock: bool = False
) -> Domain:
    return _mine(await uow.domains.claims(hostname, for_update=lock), service_id, hostname)


async def add_domain(
    cmd: AddDomain, uow: DomainsUnitOfWork, find_service: FindService, rules: DomainRules
) -> Domain:
    """Claim a hostname, pending until verified; verified elsewhere or claimed by the same
    project: Conflict. Other projects' pending claims do not block it: the first to verify wins."""
    hostname = hostname_of(cmd.hostname, rules)
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        claims = await uow.domains.claims(hostname)
        if any(d.status is Status.READY or d.project_id == service.project_id for d in claims):
            # Never which project has it, nor a way to take it over: HTTP proof only shows the
            # name points at this edge, which is as true for the project holding it.
            raise Conflict(f"{hostname} is {IN_USE}")
        domain = Domain(
            id=new_id(),
            project_id=service.project_id,
            project=service.project,
            service_id=service.id,
            service=service.name,
            hostname=hostname,
            token=new_token(),
            redirect_https=cmd.redirect_https,
            status=Status.PENDING,
            reason=None,
            created_at=now(),
        )
        await uow.domains.add(domain)
        uow.emit(DomainAdded(project=cmd.project, service=cmd.service, hostname=hostname))
        await uow.commit()
    return domain


async def _check(domain: Domain, verifiers: Verifiers, contested: bool) -> Check:
    """DNS first; then HTTP, which cannot prove a wildcard (no one host answers for it), nor
    tell apart two projects claiming a name that points at this edge."""
    dns = await verifiers.dns.verify(domain.hostname, domain.token)
    if dns.verified or domain.wildcard:
        return dns
    if contested:
        why = f"{domain.hostname} is also claimed elsewhere: only the DNS TXT record can prove it"
        return Check(dns.outcome, f"DNS: {dns.detail}; HTTP not accepted: {why} is yours")
    http = await verifiers.http.verify(domain.hostname, domain.token)
    if http.verified:
        return http
    outcomes = (dns.outcome, http.outcome)
    # Either check not answering leaves the question open: the domain stays pending.
    outcome = next((o for o in (Outcome.UNREACHABLE, Outcome.MISMATCH) if o in outcomes), None)
    return Check(outcome or Outcome.MISSING, f"DNS: {dns.detail}; HTTP: {http.detail}")


def _taken(claims: list[Domain], domain: Domain) -> bool:
    return any(d.status is Status.READY and d.id != domain.id for d in claims)


async def verify_domain(
    cmd: VerifyDomain,
    uow: DomainsUnitOfWork,
    find_service: FindService,
    rules: DomainRules,
    verifiers: Verifiers,
) -> Domain:
    """Check the token once: ready (the other claims of the name fail), failed with the
    reason, or still pending (no answer); Conflict when another claim was verified first."""
    hostname = hostname_of(cmd.hostname, rules)
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        claims = await uow.domains.claims(hostname)
    domain = _mine(claims, service.id, hostname)
    if domain.status is Status.READY:
        return domain
    if _taken(claims, domain):
        raise Conflict(f"{hostname} is {IN_USE}")
    contested = len(claims) > 1
    check = await _check(domain, verifiers, contested)  # outside the transaction: it takes seconds
    async with uow:
        claims = await uow.domains.claims(hostname, for_update=True)
        domain = _mine(claims, service.id, hostname)
        if domain.status is Status.READY:
            return domain
        if _taken(claims, domain):  # another claim won while this one was being checked
            domain.lost()
            await uow.domains.save(domain)
            await uow.commit()
            raise Conflict(f"{hostname} is {IN_USE}")
        events: list[DomainVerified | DomainVerificationFailed] = []
        if check.verified:
            domain.verified(now(), check.detail)
            await uow.domains.save(domain)  # Conflict if a concurrent winner got in first
            events.append(
                DomainVerified(project=cmd.project, service=cmd.service, hostname=hostname)
            )
            for other in claims:
                if other.id != domain.id and other.status is not Status.READY:
                    other.lost()
                    await uow.domains.save(other)
                    events.append(_failed(other))
        elif check.outcome is Outcome.UNREACHABLE:
            domain.unconfirmed(check.detail)
            await uow.domains.save(domain)
        else:
            domain.failed(check.detail)
            await uow.domains.save(domain)
            events.append(_failed(domain))
        for event in events:
            uow.emit(event)
        await uow.commit()
    return domain


def _failed(domain: Domain) -> DomainVerificationFailed:
    return DomainVerificationFailed(
        project=domain.project,
        service=domain.service,
        hostname=domain.hostname,
        reason=domain.reason or "",
    )


async def remove_domain(
    cmd: RemoveDomain, uow: DomainsUnitOfWork, find_service: FindService, rules: DomainRules
) -> None:
    """Detach a hostname; the edge stops routing it before this returns."""
    hostname = hostname_of(cmd.hostname, rules)
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        domain = await _of_service(uow, service.id, hostname, lock=True)
        await uow.domains.remove(domain.id)
        uow.emit(DomainRemoved(project=cmd.project, service=cmd.service, hostname=hostname))
        await uow.commit()
