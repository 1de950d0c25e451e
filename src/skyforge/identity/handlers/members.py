"""Project members: who has which role in a project."""

from __future__ import annotations

from skyforge.identity.commands import AddMember, ChangeMember, RemoveMember
from skyforge.identity.events import MemberAdded, MemberChanged, MemberRemoved
from skyforge.identity.handlers.access import authorize
from skyforge.identity.model import Membership, Principal, User, normalize_email
from skyforge.identity.permissions import Role, can_grant
from skyforge.identity.ports import IdentityUnitOfWork, ProjectIdOf
from skyforge.kernel.clock import now
from skyforge.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from skyforge.projects.events import ProjectCreated


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise Invalid("role must be one of owner, admin, developer, viewer") from exc


async def _manage(
    by: Principal, project: str, email: str, uow: IdentityUnitOfWork, project_id_of: ProjectIdOf
) -> tuple[str, Role | None, User]:
    """May the caller manage members here: (project id, the caller's role, the target user)."""
    project_id, granter = await authorize(by, project, "member.manage", uow, project_id_of)
    async with uow:
        user = await uow.users.by_email(normalize_email(email))
    if user is None:
        raise NotFound(f"no user {email!r}: invite them first")
    return project_id, granter, user


async def add_member(
    cmd: AddMember, uow: IdentityUnitOfWork, project_id_of: ProjectIdOf
) -> tuple[Membership, User]:
    """Give a user a role in a project."""
    role = _role(cmd.role)
    project_id, granter, user = await _manage(cmd.by, cmd.project, cmd.email, uow, project_id_of)
    if not can_grant(granter, role):
        raise Forbidden("only owners can make owners")
    membership = Membership(project_id, user.id, role, now())
    async with uow:
        if await uow.memberships.get(project_id, user.id) is not None:
            raise Conflict(f"{user.email} is already a member; change their role instead")
        await uow.memberships.save(membership)
        uow.emit(MemberAdded(project=cmd.project, email=user.email, role=role.value))
        await uow.commit()
    return membership, user


async def change_member(
    cmd: ChangeMember, uow: IdentityUnitOfWork, project_id_of: ProjectIdOf
) -> tuple[Membership, User]:
    """Change a member's role; the last owner stays an owner."""
    role = _role(cmd.role)
    project_id, granter, user = await _manage(cmd.by, cmd.project, cmd.email, uow, project_id_of)
    async with uow:
        membership = await uow.memberships.get(project_id, user.id)
        if membership is None:
            raise NotFound(f"{user.email} is not a member")
        if not can_grant(granter, role) or not can_grant(granter, membership.role):
            raise Forbidden("only owners can change owners")
        await _keep_an_owner(uow, membership, role)
        previous, membership.role = membership.role, role
        await uow.memberships.save(membership)
        uow.emit(
            MemberChanged(
                project=cmd.project, email=user.email, role=role.value, previous_role=previous.value
            )
        )
        await uow.commit()
    return membership, user


async def remove_member(
    cmd: RemoveMember, uow: IdentityUnitOfWork, project_id_of: ProjectIdOf
) -> None:
    """Take a user out of a project."""
    project_id, granter, user = await _manage(cmd.by, cmd.project, cmd.email, uow, project_id_of)
    async with uow:
        membership = await uow.memberships.get(project_id, user.id)
        if membership is None:
            raise NotFound(f"{user.email} is not a member")
        if not can_grant(granter, membership.role):
            raise Forbidden("only owners can remove owners")
        await _keep_an_owner(uow, membership, None)
        await uow.memberships.delete(membership)
        uow.emit(MemberRemoved(project=cmd.project, email=user.email, role=membership.role.value))
        await uow.commit()


async def _keep_an_owner(
    uow: IdentityUnitOfWork, membership: Membership, new_role: Role | None
) -> None:
    if membership.role != Role.OWNER or new_role == Role.OWNER:
        return
    owners = [
        m for m in await uow.memberships.of_project(membership.project_id) if m.role == Role.OWNER
    ]
    if len(owners) <= 1:
        raise Conflict("a project keeps at least one owner")


async def list_members(
    principal: Principal, project: str, uow: IdentityUnitOfWork, project_id_of: ProjectIdOf
) -> list[tuple[Membership, User]]:
    """A project's members with their accounts."""
    project_id, _ = await authorize(principal, project, "member.read", uow, project_id_of)
    async with uow:
        result = []
        for membership in await uow.memberships.of_project(project_id):
            user = await uow.users.get(membership.user_id)
            if user is not None:
                result.append((membership, user))
    return result


async def on_project_created(event: ProjectCreated, uow: IdentityUnitOfWork) -> None:
    """The project's creator becomes its owner."""
    if not event.owner_id:
        return
    async with uow:
        if await uow.memberships.get(event.project_id, event.owner_id) is None:
            await uow.memberships.save(
                Membership(event.project_id, event.owner_id, Role.OWNER, now())
            )
            owner = await uow.users.get(event.owner_id)
            if owner is not None:  # a membership is a state change: it goes on the stream too
                uow.emit(
                    MemberAdded(project=event.project, email=owner.email, role=Role.OWNER.value)
                )
            await uow.commit()
