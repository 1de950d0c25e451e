"""The reconciler: level-triggered, compares what should run with what runs, and converges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from skyforge.deploys.model import Release
from skyforge.deploys.ports import BuildRef, SecretValues, ServiceRef
from skyforge.edge.base import Route
from skyforge.kernel.errors import StepFailed
from skyforge.runtimes.base import AppRelease, ObservedApp, RolloutFailed, Runtime
from skyforge.runtimes.render import render

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Desired:
    service: ServiceRef
    release: Release | None
    build: BuildRef | None

    def app(self, secrets: Mapping[str, str] | None = None) -> AppRelease | None:
        if self.release is None or self.build is None:
            return None
        return render(self.service, self.release, self.build, secrets)


DesiredState = Callable[[str | None], Awaitable[list[Desired]]]  # all services, or one by id


@dataclass(frozen=True)
class CustomHosts:
    """A service's verified custom hostnames, and which of them are HTTPS (and redirected)."""

    hostnames: tuple[str, ...]
    tls: tuple[str, ...] = ()
    redirect_https: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainFeed:
    """Custom domains for the edge: routes of verified ones, tokens of those being verified."""

    hosts: Callable[[], Awaitable[Mapping[str, CustomHosts]]]  # service id -> hosts
    tokens: Callable[[], Awaitable[dict[str, str]]]  # hostname -> token
    set_tokens: Callable[[dict[str, str]], Awaitable[None]]


def route(service: ServiceRef, custom: CustomHosts | None) -> Route:
    """The edge route of a service: its generated hostnames, plus its custom ones."""
    scaled_to_zero = service.count("web") == 0
    if custom is None:
        return Route(
            service.key,
            service.hostnames,
            maintenance=service.maintenance,
            scaled_to_zero=scaled_to_zero,
        )
    return Route(
        service.key,
        service.hostnames + custom.hostnames,
        custom.tls,
        custom.redirect_https,
        service.maintenance,
        scaled_to_zero,
    )


def _runs(seen: ObservedApp | None, app: AppRelease) -> bool:
    """Does the runtime already run `app` at its scale?"""
    if seen is None or seen.release_id != app.release_id:
        return False
    wanted = {p.name: p.count for p in app.processes if p.count > 0}
    return {k: v for k, v in seen.counts.items() if v > 0} == wanted


class Reconciler:
    def __init__(
        self,
        desired: DesiredState,
        runtime: Runtime,
        set_routes: Callable[[list[Route]], Awaitable[None]],
        service_lock: Callable[[str], AbstractAsyncContextManager[object]],
        *,
        interval: float,
        rollout_timeout: float,
        secret_values: SecretValues | None = None,
        domains: DomainFeed | None = None,
        repair_edge: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.desired = desired
        self.repair_edge = repair_edge
        self.domains = domains
        self._routing = asyncio.Lock()
        self.secret_values = secret_values
        self.runtime = runtime
        self.set_routes = set_routes
        self.service_lock = service_lock
        self.interval = interval
        self.rollout_timeout = rollout_timeout
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._retry_at: dict[str, tuple[float, float]] = {}  # key -> (when, backoff)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconcile pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def reconcile(self) -> None:
        """One pass over every service."""
        states = await self.refresh_routes()
        await self._repair_edge()
        observed = await self.runtime.observe()
        wanted = {s.service.key for s in states if s.release is not None}
        for key in observed.keys() - wanted:
            log.info("stopping %s: no longer wanted", key)
            await self.runtime.remove(key)
        for state in states:
            app = state.app()
            if app is None:
                continue
            if _runs(observed.get(app.key), app):
                self._retry_at.pop(app.key, None)
                continue
            await self._converge(state.service.id, app.key)

    async def refresh_routes(self) -> list[Desired]:
        """Give the edge every service's routes (and custom domains' tokens) now."""
        async with self._routing:  # one writer at a time: a slow pass must not undo a newer one
            states = await self.desired(None)
            hosts = await self.domains.hosts() if self.domains else {}
            await self.set_routes([route(s.service, hosts.get(s.service.id)) for s in states])
            if self.domains is not None:
                await self.domains.set_tokens(await self.domains.tokens())
        return states

    async def _repair_edge(self) -> None:
        """Put back anything of the edge router someone else changed (it logs what)."""
        if self.repair_edge is None:
            return
        try:
            await self.repair_edge()
        except Exception:  # the services' pass goes on; the next one tries again
            log.exception("repairing the edge router failed")

    async def _converge(self, service_id: str, key: str) -> None:
        when, backoff = self._retry_at.get(key, (0.0, 1.0))
        if time.monotonic() < when:
            return
        async with self.service_lock(service_id):
            # Re-read under the lock: a deploy may have switched releases meanwhile.
            fresh = await self.desired(service_id)
            app = fresh[0].app() if fresh else None
            if app is None:
                return
            if _runs((await self.runtime.observe()).get(key), app):
                return
            try:
                # Decrypted only for a rollout: a pass that finds everything running reads none.
                app = fresh[0].app(await self._secrets(fresh[0])) or app
                log.info("converging %s to v%d", key, app.version)
                await self.runtime.rollout(
                    app,
                    lambda line: log.info("%s: %s", key, line),
                    app.rollout_bound(self.rollout_timeout),
                )
                self._retry_at.pop(key, None)
            except (RolloutFailed, StepFailed) as exc:
                log.warning("converging %s failed: %s", key, exc)
                self._retry_at[key] = (time.monotonic() + backoff, min(backoff * 2, 60.0))

    async def _secrets(self, state: Desired) -> dict[str, str]:
        if self.secret_values is None or state.release is None or not state.release.secrets:
            return {}
        return await self.secret_values(state.service, state.release.secrets)
