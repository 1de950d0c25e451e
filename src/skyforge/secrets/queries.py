"""Read side of secrets: metadata for people, references and values for rollouts."""

from __future__ import annotations

from skyforge.kernel.errors import NotFound
from skyforge.secrets.model import Secret, SecretVersion, check_name
from skyforge.secrets.ports import SecretsUnitOfWork, Vault


async def get_secret(project: str, name: str, uow: SecretsUnitOfWork) -> Secret:
    """One live secret's metadata (never its value)."""
    async with uow:
        secret = await uow.secrets.get(project, check_name(name))
    if secret is None or secret.deleted:
        raise NotFound(f"no secret named {name!r} in project {project!r}")
    return secret


async def list_secrets(
    project: str, service_id: str | None, after: str | None, limit: int, uow: SecretsUnitOfWork
) -> list[Secret]:
    """A project's secrets in creation order (those a service sees, when given)."""
    async with uow:
        return await uow.secrets.page(project, service_id, after, limit)


async def list_versions(project: str, name: str, uow: SecretsUnitOfWork) -> list[SecretVersion]:
    """The kept versions of a secret, newest first."""
    secret = await get_secret(project, name, uow)
    async with uow:
        return await uow.secrets.versions(secret.id)


async def refs_of_service(project: str, service_id: str, uow: SecretsUnitOfWork) -> dict[str, int]:
    """NAME -> current version of every secret a service sees (what a release snapshots)."""
    async with uow:
        return {s.name: s.version for s in await uow.secrets.visible_to(project, service_id)}


async def values_of(
    project: str, service_id: str, refs: dict[str, int], uow: SecretsUnitOfWork, vault: Vault
) -> dict[str, str]:
    """NAME -> plaintext for a release's references; NotFound when one no longer exists."""
    values: dict[str, str] = {}
    async with uow:
        for name, number in sorted(refs.items()):
            secret = await uow.secrets.get(project, name)
            found = None
            if secret is not None and secret.visible_to(service_id):
                found = await uow.secrets.version(secret.id, number)
            if found is None:
                raise NotFound(f"secret {name} v{number} no longer exists (deleted); set it again")
            values[name] = vault.open(found.sealed, found.binding).decode()
    return values


async def key_ids_in_use(uow: SecretsUnitOfWork) -> dict[str, int]:
    """How many versions each master key wraps."""
    async with uow:
        return await uow.secrets.key_ids()
