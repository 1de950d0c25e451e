"""Services' git sources in the composition root: where they may lead, their sealed
credentials, and the fetcher of each build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.git.fetcher import GitFetcher
from skyforge.adapters.git.guard import SourceGuard
from skyforge.adapters.netguard import NetworkPolicy, Resolver
from skyforge.adapters.netguard import system_resolver as default_resolver
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.secrets.ports import Vault
from skyforge.services import handlers
from skyforge.services.ports import Sources


def guard_of(
    settings: Settings, policy: NetworkPolicy, resolver: Resolver = default_resolver
) -> SourceGuard:
    return SourceGuard(
        policy,
        data_dir=settings.data_dir,
        local_dirs=settings.local_source_dirs,
        resolver=resolver,
    )


class SourcesWiring:
    """Built by Platform with the webhooks' network policy (one SSRF policy for everything
    SkyForge fetches for its users) and the push repositories' root."""

    def __init__(
        self,
        settings: Settings,
        uow: Callable[[], SqlUnitOfWork],
        vault: Vault,
        policy: NetworkPolicy,
        push_repo: Callable[[str, str], Path],
    ) -> None:
        self.settings, self.uow, self.push_repo = settings, uow, push_repo
        self.cipher = SealedBytes(vault)
        self.guard = guard_of(settings, policy)
        self.deps = Sources(self.guard, self.cipher)

    def use(self, policy: NetworkPolicy, resolver: Resolver = default_resolver) -> None:
        """Swap the network policy (and resolver): tests point names at their git servers."""
        self.guard = guard_of(self.settings, policy, resolver)
        self.deps = Sources(self.guard, self.cipher)

    async def fetcher(self, service_id: str, url: str) -> GitFetcher:
        """The fetcher of a build of `url` for the service: with the service's credentials
        when `url` is its own source, allowed into its own push repository."""
        async with self.uow() as uow:
            service = await uow.services.by_id(service_id)
        credentials = None
        own_repo = None
        if service is not None:
            sealed = service.source.credentials
            if sealed is not None and url == service.source.url:
                credentials = self.cipher.open(sealed, service.source_binding).decode()
            own_repo = self.push_repo(service.project, service.name)
        return GitFetcher(self.guard, credentials=credentials, own_repo=own_repo)

    # -- the secrets' master keys -------------------------------------------------------------

    async def seal_plaintext(self) -> int:
        """At start: credentials an earlier version stored in the URL, sealed."""
        return await handlers.seal_plaintext_credentials(self.uow(), self.cipher)

    async def key_ids_in_use(self) -> set[str]:
        """The master keys the sealed source credentials need (a rotation must keep them)."""
        async with self.uow() as uow:
            found = await uow.services.all()
        return {self.cipher.key_id(s.source.credentials) for s in found if s.source.credentials}

    async def reseal(self) -> int:
        """After a master key rotation: every source credential under the new key."""
        return await handlers.reseal_credentials(self.uow(), self.cipher)

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when source credentials need a master key this instance lacks."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"git source credentials are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have"
            )
