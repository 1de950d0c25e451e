"""Build use case: clone the source at the branch head and build it into a slug."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

from skyforge.builds.events import BuildFailed, BuildStarted, BuildSucceeded
from skyforge.builds.model import Build
from skyforge.builds.ports import Builder, BuildsUnitOfWork, SourceFetcher
from skyforge.kernel.clock import now
from skyforge.kernel.errors import StepFailed
from skyforge.kernel.ids import new_id
from skyforge.kernel.logs import LogSink


@dataclass(frozen=True)
class BuildRequest:
    service_id: str
    project: str
    service: str
    git_url: str
    branch: str
    commit: str | None = None  # exactly this commit (a push), else the head of `branch`


@dataclass(frozen=True)
class BuildSettings:
    slugs_dir: Path  # artifacts: <slugs_dir>/<service id>/<build id>
    cache_dir: Path  # dependency caches: <cache_dir>/<service id>
    clone_timeout: float
    build_timeout: float


async def run_build(
    req: BuildRequest,
    log: LogSink,
    uow: BuildsUnitOfWork,
    fetcher: SourceFetcher,
    builder: Builder,
    settings: BuildSettings,
) -> Build:
    """Fetch and build; the slug is kept only when the build succeeds."""
    build = Build(new_id(), req.service_id, "building", now())
    slug = settings.slugs_dir / req.service_id / build.id
    async with uow:
        await uow.builds.add(build)
        uow.emit(BuildStarted(project=req.project, service=req.service, build_id=build.id))
        await uow.commit()
    try:
        slug.parent.mkdir(parents=True, exist_ok=True)
        async with asyncio.timeout(settings.clone_timeout):
            build.commit = await fetcher.fetch(req.git_url, req.branch, slug, log, req.commit)
        cache = settings.cache_dir / req.service_id
        cache.mkdir(parents=True, exist_ok=True)
        async with asyncio.timeout(settings.build_timeout):
            result = await builder.build(slug, cache, log)
    except BaseException as exc:
        reason = _reason(exc)
        await asyncio.to_thread(shutil.rmtree, slug, True)
        build.status, build.finished_at = "failed", now()
        async with uow:
            await uow.builds.save(build)
            uow.emit(
                BuildFailed(
                    project=req.project, service=req.service, build_id=build.id, reason=reason
                )
            )
            await uow.commit()
        if isinstance(exc, Exception):
            raise StepFailed(reason) from exc
        raise
    build.status, build.finished_at = "succeeded", now()
    build.stack, build.slug_dir = result.stack, str(slug)
    build.process_types, build.env = dict(result.process_types), dict(result.env)
    async with uow:
        await uow.builds.save(build)
        uow.emit(
            BuildSucceeded(
                project=req.project,
                service=req.service,
                build_id=build.id,
                commit=build.commit or "",
                stack=result.stack,
            )
        )
        await uow.commit()
    return build


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "build timed out"
    if isinstance(exc, StepFailed):
        return exc.detail
    if isinstance(exc, asyncio.CancelledError):
        return "build cancelled"
    return f"build failed: {exc}"
