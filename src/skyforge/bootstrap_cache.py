"""The cache in the composition root: the hot reads it answers, and the events that drop them.

Cached: who a bearer token is (never the token: a digest of it is the key), a project by name
(and so its id), a caller's role in a project, a caller's page of the project list, and a
service by (project, name) or id, without its config vars. Redis when SKYFORGE_REDIS_URL is set,
so every replica shares one cache; in-process otherwise.

Freshness: the process that commits a change invalidates the tags its events touch right after
the commit, before its in-process handlers run and again after them (they may write more,
e.g. a new project's owner membership), so the request that made the change has invalidated
Redis for every replica before it answers. Every event also reaches every process through the
event feed's broadcast, which invalidates again: that covers a crash between commit and
invalidation, and in-process caches of other replicas. Reads are stamped with their tags'
generations before they touch the database (kernel/cache.py), so an invalidation can never be
overtaken by a slow reader writing an old value back. Entries live `cache_ttl` seconds (60) at
most: a safety net, not the mechanism. A cached personal token still expires on time (its expiry
is checked on every hit); a cached access token's signature is still checked against the
signing keys of the moment (one query), so a retired key's tokens stop when the key expires.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from skyforge import bootstrap_cache_codecs as codec
from skyforge.adapters.cache import CacheStats, MemoryCache, NullCache, RedisCache
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.identity.handlers.access import authenticate, permit, visible_project_ids
from skyforge.identity.model import Principal
from skyforge.identity.permissions import MATRIX, Role
from skyforge.identity.ports import TokenSigner
from skyforge.identity.settings import IdentitySettings
from skyforge.kernel.cache import Cache
from skyforge.kernel.clock import now
from skyforge.kernel.errors import NotFound
from skyforge.kernel.messages import Event
from skyforge.kernel.stream import Envelope
from skyforge.projects.model import Project
from skyforge.services.model import Service

T = TypeVar("T")


def cache_of(s: Settings) -> Cache:
    """Shared through Redis when configured; in this process otherwise; none with a TTL of 0."""
    if s.cache_ttl <= 0:
        return NullCache()
    if s.redis_url:
        return RedisCache(s.redis_url, prefix=f"{s.redis_prefix}cache:")
    return MemoryCache()


_NOTHING_CACHED_CHANGES = frozenset({"token.created", "user.signed_up"})


def tags_of(kind: str, payload: Mapping[str, Any]) -> set[str]:
    """The cache tags an event (by its type and payload) makes stale."""
    family = kind.split(".", 1)[0]
    project = payload.get("project")
    tags: set[str] = set()
    if family in ("project", "environment"):
        tags.add("projects")
        if project:
            tags |= {f"p:{project}", f"s:{project}"}
    elif family == "member":
        if project:
            tags.add(f"p:{project}")
        if payload.get("email"):
            tags.add(f"m:{payload['email']}")
    elif family in ("service", "release") and project:
        tags.add(f"s:{project}")
    elif family == "session" and payload.get("user_id"):
        tags.add(f"sess:{payload['user_id']}")
    elif family in ("token", "user") and kind not in _NOTHING_CACHED_CHANGES:
        tags.add(f"{family}s")  # any change but a new one: failed lookups are never cached
    return tags


class CacheWiring:
    """Built by Platform: the cache adapter, the cached reads, and the invalidation hooks."""

    def __init__(
        self,
        settings: Settings,
        uow: Callable[[], SqlUnitOfWork],
        signer: TokenSigner,
        identity: IdentitySettings,
    ) -> None:
        self.cache = cache_of(settings)
        self.ttl = settings.cache_ttl
        self.stats = CacheStats()
        self.uow, self.signer, self.identity = uow, signer, identity

    async def aclose(self) -> None:
        await self.cache.aclose()

    # -- invalidation ------------------------------------------------------------------------

    async def committed(self, events: Sequence[Event]) -> None:
        """Drop what committed events changed (the committing process, right after commit)."""
        tags = set().union(*(tags_of(e.type, e.payload()) for e in events))
        if tags:
            await self.cache.invalidate(tags)

    async def on_envelope(self, envelope: Envelope) -> None:
        """The same for an event from the feed (every process, at least once)."""
        tags = tags_of(envelope.type, envelope.payload)
        if tags:
            await self.cache.invalidate(tags)

    async def _through(
        self,
        key: str,
        tags: Sequence[str],
        load: Callable[[], Awaitable[T]],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> T:
        family = key.split(":", 1)[0]
        found = await self.cache.get(key, tags)
        if found.hit:
            self.stats.hit(family)
            return decode(found.value)
        self.stats.miss(family)
        value = await load()
        if found.stamp is not None:
            await self.cache.put(key, encode(value), found.stamp, self.ttl)
        return value

    # -- authentication and authorization ------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer token; identity's `authenticate` on a miss."""
        if not token or len(token) > 4096:
            return await self._authenticate(token)  # refused there, without hashing it here
        claims = codec.unverified_claims(token) if token.count(".") == 2 else {}
        subject = claims.get("sub")
        if token.count(".") == 2 and not isinstance(subject, str):
            return await self._authenticate(token)  # malformed: let identity refuse it
        tags = ["users", f"sess:{subject}"] if subject else ["users", "tokens"]
        key = "auth:" + codec.digest(token)
        found = await self.cache.get(key, tags)
        if found.hit and (found.value["exp"] is None or now().timestamp() < found.value["exp"]):
            if subject:
                await self._verify(token)  # what is cached is the session and the user
            self.stats.hit("auth")
            return codec.principal(found.value)
        self.stats.miss("auth")
        principal = await self._authenticate(token)
        expires = claims.get("exp") if subject else await self._token_expiry(principal)
        if isinstance(expires, int | float) or expires is None:
            ttl = self.ttl if expires is None else min(self.ttl, expires - now().timestamp())
            doc = {**codec.principal_doc(principal), "exp": expires}
            if found.stamp is not None and ttl > 0:
                await self.cache.put(key, doc, found.stamp, ttl)
        return principal

    async def _authenticate(self, token: str) -> Principal:
        return await authenticate(token, self.uow(), self.signer, self.identity)

    async def _verify(self, token: str) -> None:
        """An access token's signature, against the signing keys as they are now (one query;
        a retired key's tokens are refused once the key expires, cached or not)."""
        at = now()
        async with self.uow() as uow:
            keys = [k for k in await uow.signing_keys.all() if k.expire_at > at]
        self.signer.verify(token, keys, self.identity.audience, self.identity.issuer)

    async def _token_expiry(self, principal: Principal) -> float | None:
        kind, _, token_id = principal.via.partition(":")
        async with self.uow() as uow:
            token = await uow.tokens.get(token_id) if kind == "token" else None
        if token is None or token.expires_at is None:
            return None
        return token.expires_at.timestamp()

    async def authorize(self, principal: Principal, project: str, action: str) -> Role | None:
        """identity's `authorize` over the cache: NotFound for non-members, Forbidden for a
        role or token scope too small; the caller's role (None for an organization admin)."""
        if action not in MATRIX:
            raise LookupError(f"unknown action {action!r}")
        _, role = await self.project_role(principal, project)
        permit(principal, project, role, action)
        return role

    async def project_role(self, principal: Principal, project: str) -> tuple[str, Role | None]:
        """(project id, the caller's role there; None for an organization admin)."""
        if not codec.named(project):
            raise NotFound(f"no project named {project!r}")
        if principal.org_admin:
            found = await self.project(project)
            if found is None:
                raise NotFound(f"no project named {project!r}")
            return found.id, None

        async def load() -> tuple[str | None, str | None]:
            async with self.uow() as uow:
                found = await uow.projects.get(project)
                member = await uow.memberships.get(found.id, principal.user_id) if found else None
            return (found.id if found else None), (member.role.value if member else None)

        project_id, role = await self._through(
            f"role:{project}:{principal.user_id}",
            [f"p:{project}"],
            load,
            list,
            lambda doc: (doc[0], doc[1]),
        )
        if project_id is None or role is None:
            raise NotFound(f"no project named {project!r}")  # names of others must not leak
        return project_id, Role(role)

    # -- projects ------------------------------------------------------------------------------

    async def project(self, name: str) -> Project | None:
        """A project by name (with its environments), None when there is none."""
        if not codec.named(name):
            return None  # and nothing cached for names no project can have

        async def load() -> Project | None:
            async with self.uow() as uow:
                return await uow.projects.get(name)

        return await self._through(
            f"project:{name}", [f"p:{name}"], load, codec.project_doc, codec.nullable(codec.project)
        )

    async def project_id_of(self, name: str) -> str | None:
        found = await self.project(name)
        return None if found is None else found.id

    async def visible_projects(
        self, principal: Principal, after: str | None, limit: int
    ) -> list[Project]:
        """A page of the projects the caller may see (all of them for organization admins)."""

        async def load() -> list[Project]:
            visible = await visible_project_ids(principal, self.uow())
            async with self.uow() as uow:
                return await uow.projects.page(after, limit, visible)

        who = "*" if principal.org_admin else principal.user_id
        tags = ["projects"] if principal.org_admin else ["projects", f"m:{principal.email}"]
        return await self._through(
            f"projects:{who}:{after or ''}:{limit}",
            tags,
            load,
            lambda found: [codec.project_doc(p) for p in found],
            lambda docs: [codec.project(d) for d in docs],
        )

    # -- services ------------------------------------------------------------------------------

    async def service(self, project: str, name: str) -> Service:
        """A service by project and name, WITHOUT its config vars (`config` is empty: read
        those through services.queries); NotFound when there is none."""
        if not (codec.named(project) and codec.named(name)):
            raise NotFound(f"no service named {name!r} in project {project!r}")

        async def load() -> Service | None:
            async with self.uow() as uow:
                return await uow.services.get(project, name)

        found = await self._through(
            f"service:{project}:{name}",
            [f"s:{project}"],
            load,
            codec.service_doc,
            codec.nullable(codec.service),
        )
        if found is None:
            raise NotFound(f"no service named {name!r} in project {project!r}")
        return found

    async def service_by_id(self, service_id: str) -> Service | None:
        """A service by id (without config vars), None when there is none (any more)."""

        async def load() -> list[str] | None:
            async with self.uow() as uow:
                found = await uow.services.by_id(service_id)
            return None if found is None else [found.project, found.name]

        # An id never moves to another name, so the name is cached without tags; the service
        # itself is then read through its own (tagged) entry, and must still have that id.
        where = await self._through(f"service-id:{service_id}", [], load, codec.same, codec.same)
        if where is None:
            return None
        try:
            found = await self.service(where[0], where[1])
        except NotFound:
            return None
        return found if found.id == service_id else None
