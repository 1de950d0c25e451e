"""Which adapter the settings pick for each port: edge, runtime, rate limiter, OIDC."""

from __future__ import annotations

from skyforge.adapters.oidc import OidcClient
from skyforge.adapters.oidc.login import OidcLoginProvider
from skyforge.adapters.ratelimit import (
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
from skyforge.runtimes.base import Runtime
from skyforge.runtimes.null import NullRuntime


def edge_of(s: Settings) -> EdgeRouter:
    """Caddy for the local runtime; other runtimes route with their own ingress."""
    if s.edge == "null" or s.runtime != "local":
        return NullEdge()
    from skyforge.edge.caddy import CaddyEdge

    return CaddyEdge(
        s.data_dir.resolve(),
        s.edge_port,
        s.edge_host,
        https_port=s.edge_https_port,
        acme_email=s.acme_email,
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


def runtime_of(s: Settings, edge: EdgeRouter, sandbox: Sandbox) -> Runtime:
    if s.runtime == "local":
        from skyforge.runtimes.local.logrelay import LogBounds
        from skyforge.runtimes.local.runtime import LocalRuntime

        return LocalRuntime(
            s.data_dir.resolve(),
            edge,
            drain_seconds=s.drain_seconds,
            stop_grace=s.stop_grace,
            log_bounds=LogBounds.of_service(s.log_retention_bytes),
            sandbox=sandbox,
            limits=app_limits(s),
        )
    if s.runtime == "null":
        return NullRuntime()
    raise NotImplementedError(f"runtime {s.runtime!r} is not available yet")


def limiter_of(s: Settings) -> RateLimiter:
    """Shared through Redis when configured, so every API replica enforces one limit."""
    if s.redis_url:
        return RedisRateLimiter(s.redis_url, prefix=f"{s.redis_prefix}ratelimit:")
    return MemoryRateLimiter()


def login_throttle_of(s: Settings, limiter: RateLimiter) -> LoginGuard:
    first = s.login_lock_seconds
    return LoginGuard(limiter, LockoutPolicy(first_lock=first, max_lock=max(first, 900.0)))


def oidc_of(s: Settings) -> OidcLoginProvider | None:
    """Login through an OpenID provider, when all three of its settings are given."""
    if not (s.oidc_issuer and s.oidc_client_id and s.oidc_client_secret):
        return None
    redirect = s.oidc_redirect_url or f"{s.api_url}/api/v1/auth/oidc/callback"
    client = OidcClient(s.oidc_issuer, s.oidc_client_id, s.oidc_client_secret, redirect)
    return OidcLoginProvider(client)
