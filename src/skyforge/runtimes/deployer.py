"""A runtime seen from the deploys context (its Deployer port)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from skyforge.deploys.model import Release
from skyforge.deploys.ports import BuildRef, ServiceRef, Switched
from skyforge.kernel.errors import StepFailed
from skyforge.kernel.logs import LogSink
from skyforge.runtimes.base import RolloutFailed, Runtime
from skyforge.runtimes.render import render


@contextmanager
def _as_step() -> Iterator[None]:
    """A runtime's RolloutFailed is the deploy step's failure, with its reason."""
    try:
        yield
    except RolloutFailed as exc:
        raise StepFailed(str(exc)) from exc


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
        app = render(service, release, build, secrets)
        with _as_step():
            await self.runtime.run_release_phase(app, log, self.release_timeout)

    async def rollout(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
        on_switched: Switched | None = None,
    ) -> None:
        app = render(service, release, build, secrets)
        with _as_step():
            await self.runtime.rollout(
                app, log, app.rollout_bound(self.rollout_timeout), on_switched
            )

    async def restart(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
        process: str | None = None,
    ) -> None:
        app = render(service, release, build, secrets)
        with _as_step():
            await self.runtime.restart(app, log, self.rollout_timeout, process)
