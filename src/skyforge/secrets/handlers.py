"""Secret use cases: set, delete, reveal (audited) and re-wrap under a new master key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from skyforge.kernel.ids import new_id
from skyforge.secrets.commands import DeleteSecret, RevealSecret, RotateMasterKey, SetSecret
from skyforge.secrets.events import MasterKeyRotated, SecretChanged, SecretRevealed
from skyforge.secrets.model import (
    Secret,
    SecretUnreadable,
    SecretVersion,
    binding,
    check_name,
    check_value,
)
from skyforge.secrets.ports import FindProject, SecretsUnitOfWork, ServiceIdOf, Vault

REWRAP_BATCH = 200


async def _live(uow: SecretsUnitOfWork, project: str, name: str, lock: bool = False) -> Secret:
    secret = await uow.secrets.get(project, name, for_update=lock)
    if secret is None or secret.deleted:
        raise NotFound(f"no secret named {name!r} in project {project!r}")
    return secret


async def _holds(uow: SecretsUnitOfWork, vault: Vault, secret: Secret, value: str) -> bool:
    """Is `value` the current version's? An unreadable one is not: setting it again repairs it."""
    current = await uow.secrets.version(secret.id, secret.version)
    try:
        return current is not None and vault.open(current.sealed, current.binding) == value.encode()
    except SecretUnreadable:
        return False


async def set_secret(
    cmd: SetSecret,
    uow: SecretsUnitOfWork,
    vault: Vault,
    find_project: FindProject,
    service_id_of: ServiceIdOf,
) -> tuple[Secret, bool]:
    """Store a new version (none when value and scope are unchanged): (secret, created?)."""
    name = check_name(cmd.name)
    value = check_value(name, cmd.value)
    project = await find_project(cmd.project)
    service_id = None
    if cmd.service is not None:
        service_id = await service_id_of(cmd.project, cmd.service)
        if service_id is None:
            raise Invalid(f"no service named {cmd.service!r} in project {cmd.project!r}")
    at = now()
    async with uow:
        secret = await uow.secrets.get(cmd.project, name, for_update=True)
        if secret is None:
            secret = Secret(new_id(), project.id, project.name, name, None, None, 0, at, at)
            await uow.secrets.add(secret)
        elif not secret.deleted:
            if secret.service_id != service_id:
                where = f"service {secret.service}" if secret.service else "the whole project"
                raise Conflict(f"{name} is a secret of {where}: delete it to change its scope")
            if await _holds(uow, vault, secret, value):
                return secret, False  # PUT is idempotent: no new version, no new release
        created = secret.deleted or secret.version == 0
        number = secret.new_version(service_id, cmd.service, at)
        sealed = vault.seal(value.encode(), binding(project.id, name, number))
        await uow.secrets.add_version(
            SecretVersion(secret.id, project.id, name, number, sealed, at)
        )
        await uow.secrets.save(secret)
        uow.emit(
            SecretChanged(
                project=cmd.project,
                name=name,
                service=cmd.service,
                version=number,
                change="created" if created else "updated",
            )
        )
        await uow.commit()
    return secret, created


async def delete_secret(cmd: DeleteSecret, uow: SecretsUnitOfWork) -> None:
    """Delete a secret and destroy every version of it; its services get a new release."""
    name = check_name(cmd.name)
    async with uow:
        secret = await _live(uow, cmd.project, name, lock=True)
        await uow.secrets.delete_versions(secret.id)
        secret.delete(now())
        await uow.secrets.save(secret)
        uow.emit(
            SecretChanged(
                project=cmd.project,
                name=name,
                service=secret.service,
                version=None,
                change="deleted",
            )
        )
        await uow.commit()


async def reveal_secret(
    cmd: RevealSecret, uow: SecretsUnitOfWork, vault: Vault
) -> tuple[Secret, int, str]:
    """Decrypt one version (default: the current one); the audit log records who read it."""
    name = check_name(cmd.name)
    async with uow:
        secret = await _live(uow, cmd.project, name)
        number = secret.version if cmd.version is None else cmd.version
        found = await uow.secrets.version(secret.id, number)
        if found is None:
            raise NotFound(f"{name} has no version {number}")
        value = vault.open(found.sealed, found.binding).decode()
        uow.emit(
            SecretRevealed(project=cmd.project, name=name, service=secret.service, version=number)
        )
        await uow.commit()
    return secret, number, value


async def rotate_master_key(
    cmd: RotateMasterKey, uow: Callable[[], SecretsUnitOfWork], vault: Vault
) -> MasterKeyRotated:
    """Re-wrap every data key under a new master key in batches; retire the unused old keys."""
    # Values stay readable: an old key stays until no version uses it. The caller runs one
    # rotation at a time (two would keep re-wrapping each other's rows).
    if not (cmd.org_admin and cmd.admin_scope):
        raise Forbidden("only organization admins with an admin-scoped token rotate the master key")
    vault.rotate()
    rewrapped = 0
    while True:
        active = vault.active_key_id()
        async with uow() as batch:
            found = await batch.secrets.not_under(active, REWRAP_BATCH)
            for v in found:
                sealed = vault.rewrap(v.sealed, v.binding)
                await batch.secrets.rewrap(dataclasses.replace(v, sealed=sealed))
            await batch.commit()
        rewrapped += len(found)
        if len(found) < REWRAP_BATCH:
            break
    async with uow() as done:
        retired = vault.retire(set(await done.secrets.key_ids()))
        event = MasterKeyRotated(key_id=vault.active_key_id(), rewrapped=rewrapped, retired=retired)
        done.emit(event)
        await done.commit()
    return event
