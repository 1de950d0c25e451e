"""Service use cases."""

from __future__ import annotations

from dataclasses import replace

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
from skyforge.services.model import GitSource, Service, check_boot_timeout
from skyforge.services.ports import (
    Cipher,
    FindProject,
    ProcessTypesOf,
    ReleaseConfigOf,
    ServicesUnitOfWork,
    Sources,
)
from skyforge.services.source import (
    MASK,
    split_credentials,
    validate_branch,
    validate_git_url,
    without_credentials,
)


async def _get(uow: ServicesUnitOfWork, project: str, name: str) -> Service:
    service = await uow.services.get(project, name)
    if service is None:
        raise NotFound(f"no service named {name!r} in project {project!r}")
    return service


async def _accept(
    git: str,
    branch: str,
    sources: Sources,
    org_admin: bool,
    binding: bytes,
    current: GitSource | None = None,
) -> GitSource:
    """The source as given: validated, where it leads checked (unless it is the current URL),
    its credentials sealed; `***` as the credentials keeps the current ones."""
    url, credentials = split_credentials(validate_git_url(git))
    branch = validate_branch(branch)
    same_url = current is not None and current.url == url
    if credentials == MASK:
        if current is None or not same_url or current.credentials is None:
            raise Invalid(
                f"git source: '{MASK}' stands for the credentials stored for the same URL; "
                "give the credentials themselves"
            )
        return GitSource(url, branch, current.credentials)
    if not same_url:
        await sources.guard.check(url, org_admin)
    sealed = sources.cipher.seal(credentials.encode(), binding) if credentials else None
    return GitSource(url, branch, sealed)


async def _preview_source(
    cmd: CreateService, uow: ServicesUnitOfWork, sources: Sources, binding: bytes
) -> GitSource:
    """A preview builds the source of the service it previews, with its credentials."""
    assert cmd.source_of is not None
    async with uow:
        parent = await _get(uow, cmd.project, cmd.source_of)
    if split_credentials(validate_git_url(cmd.git))[0] != parent.source.url:
        raise Invalid(f"git source: a preview builds the source of {cmd.source_of!r}")
    sealed = parent.source.credentials
    if sealed is not None:
        plain = sources.cipher.open(sealed, parent.source_binding)
        sealed = sources.cipher.seal(plain, binding)
    return GitSource(parent.source.url, validate_branch(cmd.branch), sealed)


async def create_service(
    cmd: CreateService, uow: ServicesUnitOfWork, find_project: FindProject, sources: Sources
) -> Service:
    """Register a service built from a git source."""
    new_name(cmd.name, "service name")
    project = await find_project(cmd.project)
    service_id = new_id()
    binding = Service.binding_of(service_id)
    if cmd.source_of is not None:
        source = await _preview_source(cmd, uow, sources, binding)
    else:
        source = await _accept(cmd.git, cmd.branch, sources, cmd.org_admin, binding)
    at = now()
    service = Service(
        id=service_id,
        project_id=project.id,
        project=project.name,
        environment_id=project.environment_id,
        name=cmd.name,
        source=source,
        created_at=at,
        updated_at=at,
        health_check_path=cmd.health_check_path,
        boot_timeout=cmd.boot_timeout,
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
    cmd: UpdateService,
    uow: ServicesUnitOfWork,
    process_types: ProcessTypesOf,
    max_instances: int,
    sources: Sources,
) -> Service:
    """Change scale, health check, boot timeout, resources or source; scale takes effect at the next
    reconcile, resources with the next release."""
    known: set[str] | None = None
    source: GitSource | None = None
    if cmd.scale is not None or cmd.git is not None or cmd.branch is not None:
        async with uow:
            found = await _get(uow, cmd.project, cmd.name)
        if cmd.scale is not None:
            known = await process_types(found.id)
        if cmd.git is not None:
            branch = cmd.branch if cmd.branch is not None else found.source.branch
            source = await _accept(
                cmd.git, branch, sources, cmd.org_admin, found.source_binding, found.source
            )
        elif cmd.branch is not None:
            source = replace(found.source, branch=validate_branch(cmd.branch))
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
        if cmd.boot_timeout is not None:
            service.boot_timeout = check_boot_timeout(cmd.boot_timeout or None)
            changed.append("boot_timeout")
        if cmd.maintenance is not None and cmd.maintenance != service.maintenance:
            service.maintenance = cmd.maintenance
            changed.append("maintenance")
        if cmd.resources is not None and service.change_resources(cmd.resources):
            changed.append("resources")
        if source is not None:
            service.source = source
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


# -- source credentials at rest ------------------------------------------------------------------


async def seal_plaintext_credentials(uow: ServicesUnitOfWork, cipher: Cipher) -> int:
    """Credentials an earlier version kept in the URL itself, sealed now (at start); how many.

    A password where none is ever used (ssh, git://) is dropped."""
    sealed = 0
    async with uow:
        for service in await uow.services.all():
            try:
                url, credentials = split_credentials(service.source.url)
            except Invalid:
                url, credentials = without_credentials(service.source.url), None
            if url == service.source.url:
                continue
            secret = (
                cipher.seal(credentials.encode(), service.source_binding) if credentials else None
            )
            service.source = GitSource(url, service.source.branch, secret)
            await uow.services.save(service)
            sealed += 1
        await uow.commit()
    return sealed


async def reseal_credentials(uow: ServicesUnitOfWork, cipher: Cipher) -> int:
    """Every stored source credential under the active master key (after a rotation, before
    the old key retires); how many."""
    count = 0
    async with uow:
        for service in await uow.services.all():
            sealed = service.source.credentials
            if sealed is None:
                continue
            plain = cipher.open(sealed, service.source_binding)
            service.source = replace(
                service.source, credentials=cipher.seal(plain, service.source_binding)
            )
            await uow.services.save(service)
            count += 1
        await uow.commit()
    return count
