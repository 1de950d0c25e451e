"""Deploy use cases: queue, cancel, roll back, and the pipeline a worker runs."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from skyforge.deploys.commands import CancelDeploy, RequestDeploy, RestartService, RollBack
from skyforge.deploys.events import (
    DeployCancelled,
    DeployFailed,
    DeployQueued,
    DeployStarted,
    DeployStatusChanged,
    DeploySucceeded,
    ReleaseCreated,
)
from skyforge.deploys.model import (
    BUILDING,
    CANCELLED,
    DEPLOYING,
    FAILED,
    QUEUED,
    SUCCEEDED,
    Deploy,
    Release,
)
from skyforge.deploys.ports import (
    BuildRef,
    Deployer,
    DeploysUnitOfWork,
    FindService,
    GetBuild,
    RunBuild,
    SecretRefs,
    SecretValues,
    ServiceById,
    ServiceRef,
    ServicesOf,
    SourceOverride,
)
from skyforge.kernel import tracing
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, Invalid, NotFound, StepFailed
from skyforge.kernel.ids import new_id
from skyforge.kernel.logs import LogSink, StoredLog
from skyforge.secrets.events import SecretChanged
from skyforge.services.events import ConfigVarsChanged

JOB_KIND = "deploy"
logger = logging.getLogger(__name__)


async def _queue(
    uow: DeploysUnitOfWork,
    service: ServiceRef,
    kind: str,
    target: Release | None = None,
    source: SourceOverride | None = None,
    config: dict[str, str] | None = None,
    process: str | None = None,
) -> Deploy:
    deploy = Deploy(new_id(), service.id, kind, QUEUED, now(), config=config, process=process)
    if target is not None:
        deploy.target_release_id = target.id
    if source is not None:
        deploy.source_url, deploy.source_branch = source.git_url, source.branch
        deploy.source_commit = source.commit
    await uow.deploys.add(deploy)
    await uow.jobs.enqueue(JOB_KIND, deploy.id, serial_key=f"service:{service.id}")
    uow.emit(
        DeployQueued(project=service.project, service=service.name, deploy_id=deploy.id, kind=kind)
    )
    return deploy


async def request_deploy(
    cmd: RequestDeploy, uow: DeploysUnitOfWork, find_service: FindService
) -> Deploy:
    """Queue a build of the branch head (or of the commit given) and its rollout."""
    service = await find_service(cmd.project, cmd.service)
    source = _override(cmd)
    async with uow:
        deploy = await _queue(uow, service, "build", source=source)
        await uow.commit()
    return deploy


_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def _override(cmd: RequestDeploy) -> SourceOverride | None:
    if cmd.source_url is None:
        return None
    if cmd.source_commit is not None and not _COMMIT.match(cmd.source_commit):
        raise Invalid("source commit must be a full hexadecimal object id")
    return SourceOverride(cmd.source_url, cmd.source_branch, cmd.source_commit)


async def roll_back(cmd: RollBack, uow: DeploysUnitOfWork, find_service: FindService) -> Deploy:
    """Queue a new release made of an earlier release's build and config."""
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        # The current release is the one serving: recorded the moment traffic reached it.
        current = await uow.releases.current(service.id)
        if current is None:
            raise Conflict("the service has no release yet: there is nothing to roll back to")
        version = cmd.release
        if version is None:
            if current.version == 1:
                raise Conflict("v1 is the service's first release: there is nothing before it")
            version = current.version - 1
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise Invalid("release must be a positive release number")
        target = await uow.releases.by_version(service.id, version)
        if target is None:
            raise NotFound(f"no release v{version}")
        deploy = await _queue(uow, service, "rollback", target)
        await uow.commit()
    return deploy


async def restart_service(
    cmd: RestartService, uow: DeploysUnitOfWork, find_service: FindService
) -> Deploy:
    """Queue new instances of the current release (one process type, or all): a deploy job, so
    it never runs alongside a deploy of the same service."""
    service = await find_service(cmd.project, cmd.service)
    if cmd.process is not None and service.count(cmd.process) == 0:
        raise Conflict(f"{cmd.process} is scaled to 0: nothing of it runs to restart")
    async with uow:
        current = await uow.releases.current(service.id)
        if current is None:
            raise Conflict("the service has no release yet: there is nothing to restart")
        deploy = await _queue(uow, service, "restart", current, process=cmd.process)
        await uow.commit()
    return deploy


async def cancel_deploy(
    cmd: CancelDeploy, uow: DeploysUnitOfWork, find_service: FindService
) -> Deploy:
    """Cancel a queued deploy, or ask a running one to stop (the current release keeps serving)."""
    service = await find_service(cmd.project, cmd.service)
    async with uow:
        deploy = await uow.deploys.get(cmd.deploy_id)
        if deploy is None or deploy.service_id != service.id:
            raise NotFound(f"no deploy {cmd.deploy_id!r}")
        if deploy.request_cancel(now()):
            await uow.jobs.cancel_queued(JOB_KIND, deploy.id)
            uow.emit(
                DeployCancelled(project=service.project, service=service.name, deploy_id=deploy.id)
            )
        await uow.deploys.save(deploy)
        await uow.commit()
    return deploy


async def on_config_changed(
    event: ConfigVarsChanged, uow: DeploysUnitOfWork, service_by_id: ServiceById
) -> None:
    """Config vars changed: roll out a new release of the current build (if there is one),
    with the config vars as this change left them."""
    service = await service_by_id(event.service_id)
    if service is None or service.config_version != event.version:
        # Changed again before this ran: that change's own event queues the release.
        return
    async with uow:
        if await uow.releases.current(service.id) is None:
            return  # never deployed: the first deploy picks the config up
        await _queue(uow, service, "config", config=dict(service.config))
        await uow.commit()


async def on_secret_changed(
    event: SecretChanged, uow: DeploysUnitOfWork, services_of: ServicesOf
) -> None:
    """A secret changed: roll out a new release of every deployed service that sees it."""
    concerned = await services_of(event.project, event.service)
    async with uow:
        for service in concerned:
            if service.withhold_secrets:
                continue  # a fork's preview: secrets never reach it, nothing to release
            if await uow.releases.current(service.id) is not None:
                await _queue(uow, service, "config", config=dict(service.config))
        await uow.commit()


@dataclass(frozen=True)
class Pipeline:
    """What running a deploy needs, wired by bootstrap."""

    uow: Callable[[], DeploysUnitOfWork]
    service_by_id: ServiceById
    run_build: RunBuild
    get_build: GetBuild
    deployer: Deployer
    # Held from release creation to commit, shared with the reconciler, so it never acts on
    # a half-finished switch.
    service_lock: Callable[[str], AbstractAsyncContextManager[object]]
    release_timeout: float
    rollout_timeout: float
    secret_refs: SecretRefs
    secret_values: SecretValues


async def execute_deploy(deploy_id: str, log: StoredLog, p: Pipeline) -> None:
    """Build (or reuse a build), make the release, run its release phase and roll it out."""
    async with p.uow() as uow:
        queued = await uow.deploys.get(deploy_id)
    if queued is None or queued.finished:
        return
    # Looked up first: the event of the status change needs the names, in its transaction.
    service = await p.service_by_id(queued.service_id)
    async with p.uow() as uow:
        deploy = await uow.deploys.get(deploy_id)
        if deploy is None or deploy.finished:
            return
        deploy.advance(BUILDING if deploy.kind == "build" else DEPLOYING, now())
        await uow.deploys.save(deploy)
        if service is not None:
            uow.emit(DeployStarted(**_names(service, deploy), status=deploy.status))
        await uow.commit()
    if service is None:
        return await _finish(p, deploy, None, FAILED, "the service was deleted", log)
    if deploy.kind == "restart":
        return await _restart(p, deploy, service, log)
    try:
        build, config, refs, description = await _artifact(p, deploy, service, log)
        async with p.service_lock(service.id):
            release = await _rollout(p, deploy, service, build, config, refs, description, log)
    except StepFailed as exc:
        return await _finish(p, deploy, service, FAILED, exc.detail, log)
    except asyncio.CancelledError:
        if await _cancel_was_requested(p, deploy_id):
            await asyncio.shield(_finish(p, deploy, service, CANCELLED, "cancelled", log))
            return None
        raise  # the control plane is stopping: the job is retried after the restart
    except Exception as exc:
        # A bug, not the user's fault: fail the deploy visibly instead of leaving it running.
        logger.exception("deploy %s failed unexpectedly", deploy_id)
        return await _finish(
            p, deploy, service, FAILED, f"internal error ({type(exc).__name__})", log
        )
    log(f"-----> Released v{release.version}: {description}")
    await _finish(p, deploy, service, SUCCEEDED, None, log, release)


async def _restart(p: Pipeline, deploy: Deploy, service: ServiceRef, log: StoredLog) -> None:
    """New instances of the release serving now; no new release."""
    try:
        async with p.service_lock(service.id):
            async with p.uow() as uow:
                release = await uow.releases.current(service.id)
            if release is None:
                raise StepFailed("the service has no release to restart")
            build = await p.get_build(release.build_id)
            if build is None:
                raise StepFailed(f"the build of v{release.version} is gone; deploy again")
            if deploy.process is not None and deploy.process not in build.process_types:
                raise StepFailed(f"v{release.version} has no process type {deploy.process!r}")
            secrets = await p.secret_values(service, release.secrets)
            what = deploy.process or "every process"
            log(f"-----> Restarting {what} of v{release.version}")
            async with _step("restart", p.rollout_timeout):
                await p.deployer.restart(service, release, build, log, secrets, deploy.process)
    except StepFailed as exc:
        return await _finish(p, deploy, service, FAILED, exc.detail, log)
    except asyncio.CancelledError:
        if await _cancel_was_requested(p, deploy.id):
            await asyncio.shield(_finish(p, deploy, service, CANCELLED, "cancelled", log))
            return None
        raise
    except Exception as exc:
        logger.exception("restart %s failed unexpectedly", deploy.id)
        return await _finish(
            p, deploy, service, FAILED, f"internal error ({type(exc).__name__})", log
        )
    await _finish(p, deploy, service, SUCCEEDED, None, log, release)


async def _artifact(
    p: Pipeline, deploy: Deploy, service: ServiceRef, log: LogSink
) -> tuple[BuildRef, dict[str, str], dict[str, int], str]:
    """The build, config vars and secret references of the release to make."""
    # Taken before the build, like the config vars: a later change queues its own deploy.
    refs = await p.secret_refs(service) if deploy.kind != "rollback" else {}
    if service.withhold_secrets:
        refs = {}  # a fork's code: not one secret of the project reaches it
    if deploy.kind == "build":
        pushed = None
        if deploy.source_url is not None:
            pushed = SourceOverride(deploy.source_url, deploy.source_branch, deploy.source_commit)
        with tracing.span("build", service=service.name, project=service.project):
            build = await p.run_build(service, log, pushed)
        async with p.uow() as uow:
            stored = await uow.deploys.get(deploy.id)
            if stored is not None:
                stored.build_id = build.id
                stored.status = DEPLOYING
                await uow.deploys.save(stored)
                uow.emit(DeployStatusChanged(**_names(service, stored), status=DEPLOYING))
                await uow.commit()
        return build, dict(service.config), refs, _deploy_of(service, pushed)
    async with p.uow() as uow:
        if deploy.kind == "rollback" and deploy.target_release_id:
            source = await uow.releases.get(deploy.target_release_id)
            config = dict(source.config) if source else {}
            refs = dict(source.secrets) if source else {}
            description = f"Rollback to v{source.version}" if source else ""
        else:
            source = await uow.releases.current(service.id)
            config = dict(deploy.config if deploy.config is not None else service.config)
            description = _what_changed(source, config, refs)
    if source is None:
        raise StepFailed("the release to start from no longer exists")
    reused = await p.get_build(source.build_id)
    if reused is None:
        raise StepFailed(f"the build of v{source.version} is gone; deploy again")
    return reused, config, refs, description


def _deploy_of(service: ServiceRef, source: SourceOverride | None) -> str:
    if source is None:
        return f"Deploy of {service.branch}"
    commit = f" {source.commit[:12]}" if source.commit else ""
    return f"Deploy of {source.branch or service.branch}{commit}"


def _what_changed(source: Release | None, config: dict[str, str], refs: dict[str, int]) -> str:
    if source is not None and source.config == config and source.secrets != refs:
        return "Secrets changed"
    return "Config vars changed"


async def _rollout(
    p: Pipeline,
    deploy: Deploy,
    service: ServiceRef,
    build: BuildRef,
    config: dict[str, str],
    refs: dict[str, int],
    description: str,
    log: LogSink,
) -> Release:
    async with p.uow() as uow:
        current = await uow.releases.current(service.id)
    version = (current.version if current else 0) + 1
    release = Release(new_id(), service.id, version, build.id, config, description, now(), refs)
    secrets = await p.secret_values(service, refs)  # decrypted for the runtime, never stored
    if "release" in build.process_types:
        log("-----> Running release phase")
        with tracing.span("release phase", release=version):
            async with _step("release phase", p.release_timeout):
                await p.deployer.release_phase(service, release, build, log, secrets)
    log(f"-----> Rolling out v{version}")
    recorded = False

    async def record() -> None:
        """The release is the current one from the moment it serves."""
        nonlocal recorded
        if recorded:
            return
        recorded = True
        async with p.uow() as uow:
            await uow.releases.add(release)
            uow.emit(
                ReleaseCreated(
                    project=service.project,
                    service=service.name,
                    release=version,
                    description=description,
                    service_id=service.id,
                    release_id=release.id,
                    rollback=deploy.kind == "rollback",
                )
            )
            stored = await uow.deploys.get(deploy.id)
            if stored is not None:
                stored.release_id = release.id
                await uow.deploys.save(stored)
            await uow.commit()

    with tracing.span("rollout", release=version):
        # A boot timeout of the service's own stretches the step (the runtime's waits within).
        async with _step("rollout", p.rollout_timeout + (service.boot_timeout or 0)):
            await p.deployer.rollout(service, release, build, log, secrets, on_switched=record)
    await record()  # a runtime that never said when traffic moved
    return release


@asynccontextmanager
async def _step(name: str, seconds: float) -> AsyncIterator[None]:
    """A bounded step: on timeout, a StepFailed naming the step."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        raise StepFailed(f"{name} timed out after {seconds:g} s") from exc


async def _cancel_was_requested(p: Pipeline, deploy_id: str) -> bool:
    async with p.uow() as uow:
        deploy = await uow.deploys.get(deploy_id)
    return deploy is not None and deploy.cancel_requested


def _names(service: ServiceRef, deploy: Deploy) -> dict[str, str]:
    return {"project": service.project, "service": service.name, "deploy_id": deploy.id}


async def _finish(
    p: Pipeline,
    deploy: Deploy,
    service: ServiceRef | None,
    status: str,
    error: str | None,
    log: StoredLog,
    release: Release | None = None,
) -> None:
    if error:
        log(f" !     Deploy {status}: {error}")
    # Every line is stored before the status says "finished": a follower reads to the end.
    await log.flush()
    async with p.uow() as uow:
        stored = await uow.deploys.get(deploy.id)
        if stored is None:
            return
        stored.finish(status, now(), error)
        if deploy.kind == "restart" and release is not None:
            stored.release_id = release.id  # the release restarted
        await uow.deploys.save(stored)
        if service is not None:
            names = {"project": service.project, "service": service.name, "deploy_id": deploy.id}
            if status == SUCCEEDED and release is not None:
                uow.emit(DeploySucceeded(**names, release=release.version))
            elif status == CANCELLED:
                uow.emit(DeployCancelled(**names))
            else:
                uow.emit(DeployFailed(**names, reason=error or ""))
        await uow.commit()
