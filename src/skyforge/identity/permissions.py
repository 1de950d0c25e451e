"""The permission matrix, written once as data: which project role may do what.

Roles rank owner > admin > developer > viewer; organization admins may do everything in every
project. A personal API token's scope narrows what its owner may do (read < write < admin).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"
    OWNER = "owner"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2, Role.OWNER: 3}
SCOPE_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}

# action -> (the lowest project role allowed, the lowest token scope needed)
MATRIX: dict[str, tuple[Role, Scope]] = {
    "project.create": (Role.VIEWER, Scope.WRITE),  # no project yet: any user
    "project.read": (Role.VIEWER, Scope.READ),
    "project.delete": (Role.OWNER, Scope.ADMIN),
    "service.read": (Role.VIEWER, Scope.READ),
    "service.create": (Role.DEVELOPER, Scope.WRITE),
    "service.update": (Role.DEVELOPER, Scope.WRITE),
    "service.delete": (Role.ADMIN, Scope.WRITE),
    "service.deploy": (Role.DEVELOPER, Scope.WRITE),
    "service.logs": (Role.VIEWER, Scope.READ),
    "config.read": (Role.DEVELOPER, Scope.READ),
    "config.write": (Role.DEVELOPER, Scope.WRITE),
    "secret.read": (Role.DEVELOPER, Scope.READ),  # reveal a value (audited)
    "secret.write": (Role.DEVELOPER, Scope.WRITE),
    "database.read": (Role.VIEWER, Scope.READ),
    "database.manage": (Role.DEVELOPER, Scope.WRITE),  # create, attach, back up, restore, rotate
    "database.delete": (Role.ADMIN, Scope.WRITE),
    "domain.read": (Role.VIEWER, Scope.READ),
    "domain.manage": (Role.DEVELOPER, Scope.WRITE),  # as on Heroku: developers add domains
    "hook.manage": (Role.DEVELOPER, Scope.WRITE),  # inbound GitHub/GitLab hooks: they deploy
    "webhook.read": (Role.VIEWER, Scope.READ),  # subscriptions and their delivery log
    "webhook.manage": (Role.DEVELOPER, Scope.WRITE),  # Heroku: app webhooks need deploy access
    # Log drains: a drain URL may carry the receiver's token, so only developers see them.
    "logdrain.read": (Role.DEVELOPER, Scope.READ),
    "logdrain.manage": (Role.DEVELOPER, Scope.WRITE),
    "member.read": (Role.VIEWER, Scope.READ),
    "member.manage": (Role.ADMIN, Scope.ADMIN),
    "audit.read": (Role.ADMIN, Scope.READ),
}

ACTIONS = tuple(MATRIX)


def role_allows(role: Role, action: str) -> bool:
    """May a project member with `role` do `action`?"""
    return RANK[role] >= RANK[MATRIX[action][0]]


def scope_allows(scope: Scope, action: str) -> bool:
    """Does a token of `scope` cover `action`?"""
    return SCOPE_RANK[scope] >= SCOPE_RANK[MATRIX[action][1]]


def can_grant(granter: Role | None, role: Role) -> bool:
    """Only owners make owners; admins manage the roles below owner."""
    if granter is None:
        return True  # an organization admin
    return RANK[granter] >= RANK[Role.ADMIN] and (granter == Role.OWNER or role != Role.OWNER)
