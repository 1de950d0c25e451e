"""Which adapter the settings pick for each port: edge, runtime, rate limiter, OIDC."""

from __future__ import annotations

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
from skyforge.config import Settings
from skyforge.edge.base import EdgeRouter
from skyforge.edge.null import NullEdge
from skyforge.runtimes.base import Runtime
from skyforge.runtimes.null import NullRuntime


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


def runtime_of(s: Settings, edge: EdgeRouter) -> Runtime:
    if s.runtime == "local":
        from skyforge.runtimes.local.logrelay import LogBounds
        from skyforge.runtimes.local.runtime import LocalRuntime

        return LocalRuntime(
            s.data_dir.resolve(),
            edge,
            drain_seconds=s.drain_seconds,
            stop_grace=s.stop_grace,
            log_bounds=LogBounds.of_service(s.log_retention_bytes),
        )
    if s.runtime == "null":
        return NullRuntime()
    raise NotImplementedError(f"runtime {s.runtime!r} is not available yet")


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
