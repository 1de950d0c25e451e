"""A runtime seen from the deploys context (its Deployer port)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from skyforge.deploys.model import Release
from skyforge.deploys.ports import BuildRef, ServiceRef, Switched
from skyforge.kernel.errors import StepFailed
from skyforge.kernel.logs import LogSink
from skyforge.runtimes.base import RolloutFailed, Runtime
from skyforge.runtimes.render import render


class RuntimeDeployer:
    def __init__(self, runtime: Runtime, release_timeout: float, rollout_timeout: float) -> None:
        self.runtime = runtime
        self.release_timeout = release_timeout
        self.rollout_timeout = rollout_timeout

    async def release_phase(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        try:
            await self.runtime.run_release_phase(
                render(service, release, build, secrets), log, self.release_timeout
            )
        except RolloutFailed as exc:
            raise StepFailed(str(exc)) from exc

    async def rollout(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
        on_switched: Switched | None = None,
    ) -> None:
        # Every runtime says so in the deploy's output the moment traffic moves (the local one
        # then drains the old instances for a while): that moment is when the release counts.
        marker = f"-----> Switched traffic to v{release.version}"
        switched: list[asyncio.Future[None]] = []

        def watched(line: str) -> None:
            log(line)
            if on_switched is not None and not switched and line == marker:
                switched.append(asyncio.ensure_future(on_switched()))

        try:
            app = render(service, release, build, secrets)
            await self.runtime.rollout(app, watched, self.rollout_timeout)
        except RolloutFailed as exc:
            raise StepFailed(str(exc)) from exc
        finally:
            if switched:
                await asyncio.shield(switched[0])
