"""Service use cases."""

from __future__ import annotations

from skyforge.deploys.events import ReleaseCreated
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, Invalid, NotFound, PreconditionFailed
from skyforge.kernel.ids import new_id
from skyforge.kernel.names import new_name
from skyforge.services.commands import CreateService, DeleteService, SetConfigVars, UpdateService
from skyforge.services.events import (
    ConfigVarsChanged,
    ServiceCreated,
    ServiceDeleted,
    ServiceUpdated,
)
from skyforge.services.model import GitSource, Service
from skyforge.services.ports import (
    FindProject,
    ProcessTypesOf,
    ReleaseConfigOf,
    ServicesUnitOfWork,
)
from skyforge.services.source import validate_branch, validate_git_url


async def _get(uow: ServicesUnitOfWork, project: str, name: str) -> Service:
    service = await uow.services.get(project, name)
    if service is None:
        raise NotFound(f"no service named {name!r} in project {project!r}")
    return service


async def create_service(
    cmd: CreateService, uow: ServicesUnitOfWork, find_project: FindProject
) -> Service:
    """Register a service built from a git source."""
    new_name(cmd.name, "service name")
    project = await find_project(cmd.project)
    source = GitSource(validate_git_url(cmd.git), validate_branch(cmd.branch))
    at = now()
    service = Service(
        id=new_id(),
        project_id=project.id,
        project=project.name,
        environment_id=project.environment_id,
        name=cmd.name,
        source=source,
        created_at=at,
        updated_at=at,
        health_check_path=cmd.health_check_path,
        withhold_secrets=cmd.withhold_secrets,
    )
    async with uow:
        if await uow.services.get(cmd.project, cmd.name) is not None:
            raise Conflict(f"a service named {cmd.name!r} already exists in {cmd.project!r}")
        await uow.services.add(service)
        uow.emit(ServiceCreated(project=cmd.project, service=cmd.name))
        await uow.commit()
    return service


async def update_service(
    cmd: UpdateService, uow: ServicesUnitOfWork, process_types: ProcessTypesOf, max_instances: int
) -> Service:
    """Change scale, health check or source; scale takes effect at the next reconcile."""
    known: set[str] | None = None
    if cmd.scale is not None:
        async with uow:
            service_id = (await _get(uow, cmd.project, cmd.name)).id
        known = await process_types(service_id)
    async with uow:
        service = await _get(uow, cmd.project, cmd.name)
        changed: list[str] = []
        if cmd.scale is not None:
            unknown = set(cmd.scale) - known if known is not None else set()
            if unknown:
                raise Invalid(f"no such process type: {', '.join(sorted(unknown))}")
            service.change_scale(cmd.scale, max_instances)
            changed.append("scale")
        if cmd.health_check_path is not None:
            service.health_check_path = cmd.health_check_path or None
            service.__post_init__()
            changed.append("health_check_path")
        if cmd.git is not None or cmd.branch is not None:
            service.source = GitSource(
                validate_git_url(cmd.git if cmd.git is not None else service.source.url),
                validate_branch(cmd.branch if cmd.branch is not None else service.source.branch),
            )
            changed.append("source")
        if changed:
            service.updated_at = now()
            await uow.services.save(service)
            uow.emit(ServiceUpdated(project=cmd.project, service=cmd.name, fields=tuple(changed)))
            await uow.commit()
    return service


async def delete_service(cmd: DeleteService, uow: ServicesUnitOfWork) -> None:
    """Delete a service with its releases; its processes stop at the next reconcile."""
    async with uow:
        service = await _get(uow, cmd.project, cmd.name)
        await uow.services.delete(service)
        uow.emit(ServiceDeleted(project=cmd.project, service=cmd.name))
        await uow.commit()


async def set_config_vars(cmd: SetConfigVars, uow: ServicesUnitOfWork) -> Service:
    """Set/unset config vars (None unsets); a change rolls out a new release."""
    async with uow:
        service = await uow.services.get(cmd.project, cmd.name, for_update=True)
        if service is None:
            raise NotFound(f"no service named {cmd.name!r} in project {cmd.project!r}")
        if (
            cmd.expected_versions is not None
            and service.config_version not in cmd.expected_versions
        ):
            raise PreconditionFailed(
                f"the config vars changed since you read them: they are at version "
                f"{service.config_version} now; read them again (GET .../env) and retry"
            )
        if service.change_config(cmd.changes):
            service.updated_at = now()
            await uow.services.save(service)
            uow.emit(
                ConfigVarsChanged(
                    project=cmd.project,
                    service=cmd.name,
                    service_id=service.id,
                    names=tuple(sorted(cmd.changes)),
                    version=service.config_version,
                )
            )
            await uow.commit()
    return service


async def on_release_created(
    event: ReleaseCreated, uow: ServicesUnitOfWork, release_config: ReleaseConfigOf
) -> None:
    """A rollback brings the config vars of the release it returned to (as in Heroku)."""
    if not event.rollback:
        return
    config = await release_config(event.release_id)
    if config is None:
        return
    async with uow:
        service = await uow.services.get(event.project, event.service, for_update=True)
        if service is None or not service.replace_config(config):
            return
        service.updated_at = now()
        await uow.services.save(service)
        uow.emit(ServiceUpdated(project=event.project, service=event.service, fields=("config",)))
        await uow.commit()
