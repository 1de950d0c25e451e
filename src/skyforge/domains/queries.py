"""Read side of domains: a service's domains, what the edge routes and the tokens it serves."""

from __future__ import annotations

from collections import Counter

from skyforge.domains.model import Domain, Status
from skyforge.domains.ports import DomainsUnitOfWork


async def list_domains(service_id: str, uow: DomainsUnitOfWork) -> list[Domain]:
    """A service's domains in hostname order."""
    async with uow:
        return await uow.domains.of_service(service_id)


async def ready_by_service(uow: DomainsUnitOfWork) -> dict[str, list[Domain]]:
    """service id -> its verified domains (the ones the edge routes)."""
    found: dict[str, list[Domain]] = {}
    async with uow:
        for domain in await uow.domains.all():
            if domain.status is Status.READY:
                found.setdefault(domain.service_id, []).append(domain)
    return found


async def pending_tokens(uow: DomainsUnitOfWork) -> dict[str, str]:
    """hostname -> token of every domain not yet verified (the edge serves them over HTTP).

    Not for a name several projects claim: the edge would answer whoever's token for anyone
    pointing the name here, so only DNS can tell those claims apart."""
    async with uow:
        domains = await uow.domains.all()
    claims = Counter(d.hostname for d in domains)
    return {
        d.hostname: d.token
        for d in domains
        if d.status is not Status.READY and not d.wildcard and claims[d.hostname] == 1
    }
