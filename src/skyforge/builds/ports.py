"""What the builds context needs from outside: fetching sources and building artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from skyforge.builds.model import Build
from skyforge.kernel.logs import LogSink
from skyforge.kernel.uow import UnitOfWork


@dataclass(frozen=True)
class BuildResult:
    stack: str  # "procfile", "python", "node", "static"
    process_types: dict[str, str]  # Procfile-style: {"web": "gunicorn app:app ...", "release": ...}
    env: dict[str, str] = field(default_factory=dict)  # added to the app's environment (PATH...)


class SourceFetcher(Protocol):
    async def fetch(
        self, url: str, branch: str, dest: Path, log: LogSink, commit: str | None = None
    ) -> str:
        """Clone `branch` of `url` (URL or local path), or `commit` if given, into `dest`.

        Returns the commit id. Raises skyforge.kernel.errors.StepFailed with a clear reason.
        """


class Builder(Protocol):
    async def build(self, app_dir: Path, cache_dir: Path, log: LogSink) -> BuildResult:
        """Detect the stack of the sources in `app_dir` and install what they need in place.

        `cache_dir` persists between builds of the same service (dependency caches).
        Raises StepFailed (reason written to `log` too) when the build fails.
        """


class BuildRepository(Protocol):
    async def add(self, build: Build) -> None: ...
    async def get(self, build_id: str) -> Build | None: ...
    async def save(self, build: Build) -> None: ...


class BuildsUnitOfWork(UnitOfWork, Protocol):
    @property
    def builds(self) -> BuildRepository: ...
