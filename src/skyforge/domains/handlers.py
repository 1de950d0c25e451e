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


async def _of_service(
    uow: DomainsUnitOfWork, service_id: str, hostname: str, lock: bool = False
) -> Domain:
    domain = await uow.domains.get(hostname, for_update=lock)
    if domain is None or domain.service_id != service_id:
        raise NotFound(f"the service has no domain {hostname!r}")
    return domain


async def add_domain(
    cmd: AddDomain, uow: DomainsUnitOfWork, find_service: FindService, rules: DomainRules
) -> Domain:
    """Attach a hostname, pending until verified; taken anywhere on the platform: Conflict."""
    hostname = hostname_of(cmd.hostname, rules)
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        if await uow.domains.get(hostname) is not None:
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


async def _check(domain: Domain, verifiers: Verifiers) -> Check:
    """DNS first; then HTTP, which cannot prove a wildcard (no one host answers for it)."""
    dns = await verifiers.dns.verify(domain.hostname, domain.token)
    if dns.verified or domain.wildcard:
        return dns
    http = await verifiers.http.verify(domain.hostname, domain.token)
    if http.verified:
        return http
    outcomes = (dns.outcome, http.outcome)
    # Either check not answering leaves the question open: the domain stays pending.
    outcome = next((o for o in (Outcome.UNREACHABLE, Outcome.MISMATCH) if o in outcomes), None)
    return Check(outcome or Outcome.MISSING, f"DNS: {dns.detail}; HTTP: {http.detail}")


async def verify_domain(
    cmd: VerifyDomain,
    uow: DomainsUnitOfWork,
    find_service: FindService,
    rules: DomainRules,
    verifiers: Verifiers,
) -> Domain:
    """Check the token once: ready, failed with the reason, or still pending (no answer)."""
    hostname = hostname_of(cmd.hostname, rules)
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        domain = await _of_service(uow, service.id, hostname)
    if domain.status is Status.READY:
        return domain
    check = await _check(domain, verifiers)  # outside the transaction: it takes seconds
    async with uow:
        domain = await _of_service(uow, service.id, hostname, lock=True)
        if domain.status is Status.READY:
            return domain
        if check.verified:
            domain.verified(now(), check.detail)
            event: DomainVerified | DomainVerificationFailed | None = DomainVerified(
                project=cmd.project, service=cmd.service, hostname=hostname
            )
        elif check.outcome is Outcome.UNREACHABLE:
            domain.unconfirmed(check.detail)
            event = None
        else:
            domain.failed(check.detail)
            event = DomainVerificationFailed(
                project=cmd.project, service=cmd.service, hostname=hostname, reason=check.detail
            )
        await uow.domains.save(domain)
        if event is not None:
            uow.emit(event)
        await uow.commit()
    return domain


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
