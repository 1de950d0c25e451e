"""What the deploys context needs from outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from skyforge.deploys.model import Deploy, Release
from skyforge.kernel.jobs import JobQueue
from skyforge.kernel.logs import LogSink
from skyforge.kernel.uow import UnitOfWork


class DeployRepository(Protocol):
    async def add(self, deploy: Deploy) -> None: ...
    async def get(self, deploy_id: str) -> Deploy | None: ...
    async def save(self, deploy: Deploy) -> None: ...
    async def page(self, service_id: str, after: str | None, limit: int) -> list[Deploy]: ...


class ReleaseRepository(Protocol):
    async def add(self, release: Release) -> None: ...
    async def current(self, service_id: str) -> Release | None: ...
    async def by_version(self, service_id: str, version: int) -> Release | None: ...
    async def get(self, release_id: str) -> Release | None: ...
    async def page(self, service_id: str, before: int | None, limit: int) -> list[Release]: ...


class DeployLogRepository(Protocol):
    async def append(self, deploy_id: str, first_seq: int, lines: list[str]) -> None: ...
    async def read(self, deploy_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]: ...


class DeploysUnitOfWork(UnitOfWork, Protocol):
    @property
    def deploys(self) -> DeployRepository: ...
    @property
    def releases(self) -> ReleaseRepository: ...
    @property
    def deploy_logs(self) -> DeployLogRepository: ...
    @property
    def jobs(self) -> JobQueue: ...


@dataclass(frozen=True)
class ServiceRef:
    """What deploys needs to know of a service (from the services context)."""

    id: str
    project: str
    name: str
    git_url: str
    branch: str
    config: dict[str, str]
    scale: dict[str, int]
    health_check_path: str | None
    resources: dict[str, int] = field(default_factory=dict)  # its own resource limits
    config_version: int = 0
    withhold_secrets: bool = False  # a fork's preview: its releases reference no secret
    boot_timeout: int | None = None  # seconds its web processes may take; None: the default
    maintenance: bool = False  # the edge answers a maintenance page for it

    @property
    def key(self) -> str:
        return f"{self.project}.{self.name}"

    @property
    def hostnames(self) -> tuple[str, ...]:
        return (f"{self.name}.{self.project}.localhost",)

    def count(self, process_type: str) -> int:
        return self.scale.get(process_type, 1)


@dataclass(frozen=True)
class BuildRef:
    """A successful build (from the builds context)."""

    id: str
    slug_dir: str
    process_types: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceOverride:
    """Build this instead of the service's source: a pushed commit, a provider hook's."""

    git_url: str
    branch: str | None = None  # for the log and the release's description
    commit: str | None = None  # None: the head of `branch`


FindService = Callable[[str, str], Awaitable[ServiceRef]]  # (project, name), NotFound if absent
ServiceById = Callable[[str], Awaitable[ServiceRef | None]]
# (service, log, source override or None); raises StepFailed
RunBuild = Callable[[ServiceRef, LogSink, SourceOverride | None], Awaitable[BuildRef]]
GetBuild = Callable[[str], Awaitable[BuildRef | None]]
# Filled from the secrets context. The NAME -> current version of the secrets a service sees
# (what a new release snapshots); the plaintext of a release's references, at rollout only
# (StepFailed when one no longer exists); the services a secret change concerns.
SecretRefs = Callable[[ServiceRef], Awaitable[dict[str, int]]]
SecretValues = Callable[[ServiceRef, dict[str, int]], Awaitable[dict[str, str]]]
ServicesOf = Callable[[str, str | None], Awaitable[list[ServiceRef]]]  # (project, service?)


Switched = Callable[[], Awaitable[None]]


class Deployer(Protocol):
    """Runs releases (a runtime, seen from deploys). Failures raise kernel StepFailed."""

    async def release_phase(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
    ) -> None: ...

    async def rollout(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
        on_switched: Switched | None = None,
    ) -> None:
        """Make the release the running one; `on_switched` is awaited once traffic reaches it
        (before the old instances drain), or not at all when traffic did not move."""
        ...

    async def restart(
        self,
        service: ServiceRef,
        release: Release,
        build: BuildRef,
        log: LogSink,
        secrets: Mapping[str, str] | None = None,
        process: str | None = None,
    ) -> None:
        """Replace the running release's instances (of `process`, or all), zero downtime."""
        ...
