"""A runtime seen from the deploys context (its Deployer port)."""

from __future__ import annotations

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
        try:
            app = render(service, release, build, secrets)
            await self.runtime.rollout(
                app, log, app.rollout_bound(self.rollout_timeout), on_switched
            )
        except RolloutFailed as exc:
            raise StepFailed(str(exc)) from exc

    async def restart(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
        process: str | None = None,
    ) -> None:
        try:
            app = render(service, release, build, secrets)
            await self.runtime.restart(app, log, self.rollout_timeout, process)
        except RolloutFailed as exc:
            raise StepFailed(str(exc)) from exc
