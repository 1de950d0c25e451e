"""Tenant keyspaces on a Redis server: one ACL user per name, limited to keys `<name>:*`."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from skyforge.adapters.dbprovision.base import Credentials
from skyforge.adapters.dbprovision.names import check_prefix, managed_name
from skyforge.adapters.dbprovision.passwords import new_password, redis_acl_hash
from skyforge.adapters.dbprovision.urls import ServerUrl, build_url, parse_server_url
from skyforge.kernel.errors import BadGateway, Conflict, Invalid, NotFound, SkyforgeError

# +@all minus what reaches past the tenant's own keys and channels. Key patterns (~) and channel
# patterns (&) only guard commands that name keys or channels, so the rest must be denied here.
COMMANDS = (
    "+@all",
    "-@dangerous",  # a superset of @admin: ACL, CONFIG, FLUSHALL, FLUSHDB, KEYS, INFO, ...
    "-scan",  # these list or count other tenants' keys and channels
    "-randomkey",
    "-dbsize",
    "-pubsub",
    "-client|tracking",  # BCAST prefixes are not checked against key patterns (Redis 7.0)
    "-select",  # keys in other logical databases would escape delete's SCAN
    "-move",
    "-copy",
    "-function",  # libraries are server-wide: one tenant could delete another's
    "-script|flush",
    "-script|kill",
    "-memory",  # server-wide figures; a key's own usage stays allowed
    "+memory|usage",
)
_OUTAGE = (RedisError, OSError, builtins.TimeoutError)


class RedisProvisioner:
    """Creates, rotates and removes ACL users; see README.md for what it guarantees."""

    def __init__(
        self,
        admin_url: str,
        *,
        prefix: str = "sf_",
        public_host: str | None = None,
        public_port: int | None = None,
        save_acl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._url = admin_url
        self._admin: ServerUrl = parse_server_url(admin_url, ("redis", "rediss"), 6379, "default")
        if not (self._admin.path or "0").isdigit():
            raise Invalid("the Redis admin URL must name a database index, like /0")
        self._db = int(self._admin.path or "0")
        self.prefix = check_prefix(prefix)
        self._host = public_host or self._admin.host
        self._port = public_port or self._admin.port
        self._save_acl = save_acl  # ACL SAVE needs an aclfile; without one users live in memory
        self._timeout = timeout

    def name(self, name: object) -> str:
        """Return name when SkyForge may manage a Redis user under it, else raise Invalid."""
        checked = managed_name(name, self.prefix)
        if checked == self._admin.user:
            raise Conflict(f"{checked!r} is the administrator's own user")
        return checked

    def rules(self, name: str) -> list[str]:
        """The ACL SETUSER rules of the tenant `name`, before its password."""
        # resetchannels after reset: acl-pubsub-default=allchannels would otherwise apply.
        select = [f"+select|{self._db}"] if self._db else []
        return ["reset", "resetchannels", "on", f"~{name}:*", f"&{name}:*", *COMMANDS, *select]

    def credentials(self, name: str, password: str) -> Credentials:
        """What an app needs to reach its keys (which it must prefix with `<name>:`)."""
        url = build_url(self._admin.scheme, name, password, self._host, self._port, str(self._db))
        return Credentials(self._host, self._port, str(self._db), name, password, url, name + ":")

    async def create(self, name: str) -> Credentials:
        """Create the user with a new password; Conflict when a user of that name exists."""
        name, password = self.name(name), new_password()
        async with self._connect() as redis:
            if await self._user(redis, name):
                raise Conflict(f"a Redis user named {name!r} already exists")
            await _acl(redis, "SETUSER", name, *self.rules(name), redis_acl_hash(password))
            await self._save(redis)
        return self.credentials(name, password)

    async def rotate(self, name: str) -> Credentials:
        """Replace the password; connections already authenticated stay open; keys untouched."""
        name, password = self.name(name), new_password()
        async with self._connect() as redis:
            if not await self._user(redis, name):
                raise NotFound(f"no Redis user named {name!r}")
            await _acl(redis, "SETUSER", name, "resetpass", redis_acl_hash(password))
            await self._save(redis)
        return self.credentials(name, password)

    async def delete(self, name: str) -> None:
        """Remove the user (Redis closes its connections), then its keys, by SCAN and UNLINK."""
        name = self.name(name)
        async with self._connect() as redis:
            # The user goes first so that nothing writes new keys while we scan.
            await _acl(redis, "DELUSER", name)
            await self._save(redis)
            batch: list[str] = []
            async for key in redis.scan_iter(match=f"{name}:*", count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    await redis.unlink(*batch)
                    batch.clear()
            if batch:
                await redis.unlink(*batch)

    async def exists(self, name: str) -> bool:
        """Whether a Redis user of that name exists."""
        name = self.name(name)
        async with self._connect() as redis:
            return await self._user(redis, name)

    async def audit(self) -> list[str]:
        """What lets clients bypass the tenant users on this server, one sentence each."""
        async with self._connect() as redis:
            default = await _acl(redis, "GETUSER", "default")
        flags = default.get("flags", []) if default else []
        if "on" in flags and "nopass" in flags:
            return [
                "the Redis 'default' user is on without a password, so any client can skip the "
                "tenant users: ACL SETUSER default off (or give it a password and restrict it)"
            ]
        return []

    async def _user(self, redis: Redis, name: str) -> bool:
        return await _acl(redis, "GETUSER", name) is not None

    async def _save(self, redis: Redis) -> None:
        if self._save_acl:
            await _acl(redis, "SAVE")

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[Redis]:
        redis = Redis.from_url(
            self._url,
            decode_responses=True,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
        )
        try:
            yield redis
        except SkyforgeError:
            raise
        except _OUTAGE as exc:
            # `from None` and a scrubbed message: no traceback or text can carry the password.
            detail = self._admin.scrub(f"{type(exc).__name__}: {exc}")
            raise BadGateway(f"Redis at {self._admin.redacted()} failed: {detail}") from None
        finally:
            await redis.aclose()


async def _acl(redis: Redis, *args: str) -> Any:
    # Raw ACL commands: redis-py's acl_setuser reorders rules, and their order matters here.
    return await redis.execute_command("ACL", *args)  # type: ignore[no-untyped-call]
