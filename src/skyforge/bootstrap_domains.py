"""The domains context in the composition root: its verifiers, handlers and the edge's feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skyforge.adapters.dns import DnsTxtVerifier, HttpTokenVerifier
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.domains import handlers, queries
from skyforge.domains.commands import AddDomain, RemoveDomain, VerifyDomain
from skyforge.domains.ports import DomainRules, ServiceRef, Verifiers
from skyforge.kernel.errors import NotFound
from skyforge.workers.reconciler import CustomHosts


class DomainsWiring:
    """Built by Platform: the rules and verifiers from the settings, and what they wire."""

    def __init__(self, settings: Settings, uow: Callable[[], SqlUnitOfWork]) -> None:
        self.uow = uow
        suffixes = (settings.platform_domain,) if settings.platform_domain else ()
        self.rules = DomainRules(suffixes, settings.allow_wildcard_domains)
        self.https = settings.edge_https_port is not None
        self.verifiers = Verifiers(
            dns=DnsTxtVerifier(settings.dns_nameservers or None, port=settings.dns_port),
            http=HttpTokenVerifier(
                port=settings.verify_http_port or settings.edge_port,
                connect_to=settings.verify_connect_to,
            ),
        )

    def commands(self) -> dict[type, Callable[[Any], Any]]:
        return {
            AddDomain: lambda c: handlers.add_domain(c, self.uow(), self.find_service, self.rules),
            VerifyDomain: lambda c: handlers.verify_domain(
                c, self.uow(), self.find_service, self.rules, self.verifiers
            ),
            RemoveDomain: lambda c: handlers.remove_domain(
                c, self.uow(), self.find_service, self.rules
            ),
        }

    async def find_service(self, project: str, name: str) -> ServiceRef:
        """The domains context's port, filled from the services context."""
        async with self.uow() as uow:
            service = await uow.services.get(project, name)
            found = await uow.projects.get(project) if service else None
        if service is None or found is None:
            raise NotFound(f"no service named {name!r} in project {project!r}")
        return ServiceRef(service.id, service.name, found.id, found.name)

    # -- the reconciler's feed -----------------------------------------------------------------

    async def hosts(self) -> dict[str, CustomHosts]:
        """service id -> the verified custom hostnames the edge routes to it."""
        result: dict[str, CustomHosts] = {}
        for service_id, found in (await queries.ready_by_service(self.uow())).items():
            names = tuple(d.hostname for d in found)
            tls = names if self.https else ()
            redirect = tuple(d.hostname for d in found if d.redirect_https) if self.https else ()
            result[service_id] = CustomHosts(names, tls, redirect)
        return result

    async def tokens(self) -> dict[str, str]:
        """hostname -> token of the domains waiting for verification."""
        return await queries.pending_tokens(self.uow())
