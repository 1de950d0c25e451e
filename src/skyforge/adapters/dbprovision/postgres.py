"""Tenant databases on a PostgreSQL cluster: one database and one owning login role per name."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from skyforge.adapters.dbprovision.base import Credentials
from skyforge.adapters.dbprovision.names import (
    MANAGED,
    check_prefix,
    managed_name,
    quote_ident,
    quote_literal,
)
from skyforge.adapters.dbprovision.passwords import new_password, scram_sha_256
from skyforge.adapters.dbprovision.urls import ServerUrl, build_url, parse_server_url
from skyforge.kernel.errors import BadGateway, Conflict, NotFound, SkyforgeError

# Databases whose ACL lets PUBLIC connect; a NULL datacl means the defaults, which do.
_OPEN = """
SELECT datname FROM pg_database d
WHERE datallowconn AND (d.datacl IS NULL OR EXISTS (
    SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT'))
  AND ($1::text IS NULL OR shobj_description(d.oid, 'pg_database') = $1)
ORDER BY datname
"""
_STATE = """
SELECT
  EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role,
  EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1
          AND shobj_description(oid, 'pg_authid') = $2) AS role_managed,
  EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS db,
  EXISTS (SELECT 1 FROM pg_database WHERE datname = $1
          AND shobj_description(oid, 'pg_database') = $2) AS db_managed
"""


class PostgresProvisioner:
    """Creates, rotates and drops tenant databases; see README.md for what it guarantees."""

    def __init__(
        self,
        admin_url: str,
        *,
        prefix: str = "sf_",
        public_host: str | None = None,
        public_port: int | None = None,
        connection_limit: int = 20,
        timeout: float = 30.0,
    ) -> None:
        self._url = admin_url
        self._admin: ServerUrl = parse_server_url(
            admin_url, ("postgresql", "postgres"), 5432, "postgres"
        )
        self.prefix = check_prefix(prefix)
        self._host = public_host or self._admin.host
        self._port = public_port or self._admin.port
        self._limit = int(connection_limit)
        self._timeout = timeout

    def name(self, name: object) -> str:
        """Return name when SkyForge may manage a database under it, else raise Invalid."""
        checked = managed_name(name, self.prefix)
        if checked == self._admin.user:
            raise Conflict(f"{checked!r} is the administrator's own role")
        return checked

    def credentials(self, name: str, password: str) -> Credentials:
        """What an app needs to reach the tenant database `name` as its role."""
        query = self._admin.query_only("sslmode")
        url = build_url("postgresql", name, password, self._host, self._port, name, query)
        return Credentials(self._host, self._port, name, name, password, url)

    async def create(self, name: str) -> Credentials:
        """Create the database and its owning role with a new password; Conflict when taken."""
        name, password = self.name(name), new_password()
        ident = quote_ident(name)
        async with self._connect() as conn:
            role, _, db, _ = await conn.fetchrow(_STATE, name, MANAGED)
            if role or db:
                raise Conflict(f"a database or role named {name!r} already exists")
            # Not NOINHERIT: the role owns schema public through its implicit membership in
            # pg_database_owner, which it must inherit to create tables there.
            async with conn.transaction():
                await conn.execute(
                    f"CREATE ROLE {ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                    f" NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {self._limit}"
                    f" PASSWORD {quote_literal(scram_sha_256(password))}"
                )
                await conn.execute(f"COMMENT ON ROLE {ident} IS {quote_literal(MANAGED)}")
            try:
                # Closed to every connection until PUBLIC has lost CONNECT: a session opened in
                # between by another role would outlive the REVOKE. template0 holds nothing an
                # operator added to template1 and never has users connected to block us.
                await conn.execute(
                    f"CREATE DATABASE {ident} OWNER {ident} TEMPLATE template0"
                    " ALLOW_CONNECTIONS false"
                )
                await conn.execute(f"COMMENT ON DATABASE {ident} IS {quote_literal(MANAGED)}")
                await conn.execute(f"REVOKE ALL ON DATABASE {ident} FROM PUBLIC")
                await self._close_managed_databases(conn)
                await conn.execute(f"ALTER DATABASE {ident} ALLOW_CONNECTIONS true")
            except BaseException:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    await self._drop(conn, name, role=True, db=True)
                raise
        return self.credentials(name, password)

    async def rotate(self, name: str) -> Credentials:
        """Give the role a new password (sessions already open stay open); data is untouched."""
        name, password = self.name(name), new_password()
        async with self._connect() as conn:
            _, role_managed, _, _ = await conn.fetchrow(_STATE, name, MANAGED)
            if not role_managed:
                raise NotFound(f"no database named {name!r} was created by SkyForge")
            verifier = quote_literal(scram_sha_256(password))
            await conn.execute(f"ALTER ROLE {quote_ident(name)} WITH PASSWORD {verifier}")
        return self.credentials(name, password)

    async def delete(self, name: str) -> None:
        """End the role's sessions, drop the database and the role; refuse what we did not make."""
        name = self.name(name)
        async with self._connect() as conn:
            role, role_managed, db, db_managed = await conn.fetchrow(_STATE, name, MANAGED)
            if (role and not role_managed) or (db and not db_managed):
                raise Conflict(f"{name!r} exists but was not created by SkyForge: left untouched")
            await self._drop(conn, name, role=role, db=db)

    async def exists(self, name: str) -> bool:
        """Whether a database SkyForge created under this name exists."""
        name = self.name(name)
        async with self._connect() as conn:
            return bool((await conn.fetchrow(_STATE, name, MANAGED))["db_managed"])

    async def audit(self) -> list[str]:
        """What lets tenants reach beyond their database on this cluster, one sentence each."""
        found = []
        async with self._connect() as conn:
            for row in await conn.fetch(_OPEN, None):
                found.append(
                    f"database {row['datname']!r} grants CONNECT to PUBLIC, so every tenant "
                    f"role can connect: REVOKE CONNECT ON DATABASE {quote_ident(row['datname'])}"
                    " FROM PUBLIC"
                )
            try:
                trusted = await conn.fetch(
                    "SELECT line_number, type FROM pg_hba_file_rules"
                    " WHERE auth_method = 'trust' ORDER BY line_number"
                )
            except asyncpg.InsufficientPrivilegeError:
                trusted = []  # only superusers may read pg_hba.conf rules
            for row in trusted:
                found.append(
                    f"pg_hba.conf line {row['line_number']} ({row['type']}) uses trust: "
                    "passwords are not checked there; use scram-sha-256"
                )
        return found

    async def _drop(self, conn: Any, name: str, *, role: bool, db: bool) -> None:
        ident = quote_ident(name)
        if role:
            await conn.execute(f"ALTER ROLE {ident} NOLOGIN")  # no new session from here on
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE (usename = $1 OR datname = $1) AND pid <> pg_backend_pid()",
            name,
        )
        if db:
            await conn.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        if role:
            await conn.execute(f"DROP ROLE IF EXISTS {ident}")

    async def _close_managed_databases(self, conn: Any) -> None:
        # Each database loses PUBLIC's CONNECT at creation; this repairs any granted back since,
        # so that the new role can reach no other tenant's database.
        for row in await conn.fetch(_OPEN, MANAGED):
            await conn.execute(f"REVOKE ALL ON DATABASE {quote_ident(row['datname'])} FROM PUBLIC")

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[Any]:
        try:
            conn = await asyncpg.connect(
                self._url, timeout=self._timeout, command_timeout=self._timeout
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._failure(exc) from None
        try:
            yield conn
        except (asyncpg.DuplicateObjectError, asyncpg.DuplicateDatabaseError) as exc:
            raise Conflict(self._admin.scrub(str(exc))) from None
        except asyncpg.DependentObjectsStillExistError as exc:
            raise Conflict(
                "the role still owns objects or privileges in other databases: "
                + self._admin.scrub(str(exc))
            ) from None
        except SkyforgeError:
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._failure(exc) from None
        finally:
            await conn.close()

    def _failure(self, exc: BaseException) -> BadGateway:
        # `from None` and a scrubbed message: no traceback or text can carry the admin password.
        detail = self._admin.scrub(f"{type(exc).__name__}: {exc}")
        return BadGateway(f"PostgreSQL at {self._admin.redacted()} failed: {detail}")
