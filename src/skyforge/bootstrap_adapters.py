"""Which adapter the settings pick for each port: edge, runtime, rate limiter, OIDC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.oidc import OidcClient
from skyforge.adapters.oidc.login import OidcLoginProvider
from skyforge.adapters.ratelimit import (
    Counters,
    LockoutPolicy,
    LoginGuard,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from skyforge.adapters.sandbox import Sandbox, sandbox_of
from skyforge.config import Settings
from skyforge.edge.base import EdgeRouter
from skyforge.edge.null import NullEdge
from skyforge.kernel.limits import Limits
from skyforge.runtimes.base import Runtime, Sealer
from skyforge.runtimes.null import NullRuntime

if TYPE_CHECKING:
    from skyforge.runtimes.local.registry import Registry


def edge_of(s: Settings) -> EdgeRouter:
    """Caddy for the local runtime; other runtimes route with their own ingress."""
    if s.edge == "null" or s.runtime != "local":
        return NullEdge()
    from skyforge.edge.caddy import CaddyEdge
    from skyforge.edge.caddy_config import ServerTimeouts

    return CaddyEdge(
        s.data_dir.resolve(),
        s.edge_port,
        s.edge_host,
        https_port=s.edge_https_port,
        acme_email=s.acme_email,
        timeouts=ServerTimeouts(s.header_timeout, s.edge_body_timeout, s.edge_idle_timeout),
    )


def sandbox_of_settings(s: Settings) -> Sandbox:
    """Where tenant processes run: the data dir's sandbox, or none when the operator says off."""
    if s.sandbox == "off":
        return Sandbox.off()
    return sandbox_of(s.data_dir.resolve(), s.sandbox_first_uid)


def app_limits(s: Settings) -> Limits:
    return Limits(s.app_memory_mb, s.app_processes, s.app_open_files)


def build_limits(s: Settings) -> Limits:
    return Limits(s.build_memory_mb, s.build_processes, s.app_open_files, s.build_cpu_seconds)


def runtime_of(s: Settings, edge: EdgeRouter, sandbox: Sandbox, sealer: Sealer) -> Runtime:
    """`sealer` seals the local runtime's records (they hold the apps' secrets)."""
    if s.runtime == "local":
        from skyforge.runtimes.local.logrelay import LogBounds
        from skyforge.runtimes.local.runtime import LocalRuntime

        return LocalRuntime(
            s.data_dir.resolve(),
            edge,
            drain_seconds=s.drain_seconds,
            stop_grace=s.stop_grace,
            health_timeout=s.boot_timeout,
            log_bounds=LogBounds.of_service(s.log_retention_bytes),
            sandbox=sandbox,
            limits=app_limits(s),
            sealer=sealer,
        )
    if s.runtime == "null":
        return NullRuntime()
    raise NotImplementedError(f"runtime {s.runtime!r} is not available yet")


class RunRecords:
    """The local runtime's on-disk records as the master keys see them: the keys they are
    sealed under (kept by a rotation, checked at start), resealed after a rotation."""

    def __init__(self, registry: Registry | None) -> None:
        self.registry = registry  # None: the runtime keeps no records on this host

    async def key_ids_in_use(self) -> set[str]:
        return self.registry.key_ids() if self.registry else set()

    async def reseal(self) -> int:
        # Synchronous like the runtime's own writes: none can come in between in this process.
        return self.registry.reseal() if self.registry else 0

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when records need a master key this instance lacks (adopting the
        apps that live on would fail)."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"the local runtime's records are sealed under master key(s) "
                f"{', '.join(missing)} which this instance does not have"
            )


def records_of(s: Settings, sealer: Sealer) -> RunRecords:
    if s.runtime != "local":
        return RunRecords(None)
    from skyforge.runtimes.local.registry import Registry

    return RunRecords(Registry(s.data_dir.resolve() / "run", sealer))


def limiter_of(s: Settings) -> RateLimiter:
    """Shared through Redis when configured, so every API replica enforces one limit."""
    if s.redis_url:
        return RedisRateLimiter(s.redis_url, prefix=f"{s.redis_prefix}ratelimit:")
    return MemoryRateLimiter()


def login_throttle_of(s: Settings, limiter: RateLimiter, database: Counters) -> LoginGuard:
    """Failed logins counted in Redis when configured (shared, like the limiter), else in the
    `database`: never in process only, so that a restart does not hand out fresh guesses."""
    first = s.login_lock_seconds
    policy = LockoutPolicy(first_lock=first, max_lock=max(first, 900.0))
    return LoginGuard(limiter if s.redis_url else database, policy)


def oidc_of(s: Settings) -> OidcLoginProvider | None:
    """Login through an OpenID provider, when all three of its settings are given."""
    if not (s.oidc_issuer and s.oidc_client_id and s.oidc_client_secret):
        return None
    redirect = s.oidc_redirect_url or f"{s.api_url}/api/v1/auth/oidc/callback"
    client = OidcClient(s.oidc_issuer, s.oidc_client_id, s.oidc_client_secret, redirect)
    return OidcLoginProvider(client)
