"""Tenant databases on the real PostgreSQL: isolation, rotation, deletion and hostile names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from tests.conftest import POSTGRES

from skyforge.adapters.dbprovision import (
    Credentials,
    PostgresProvisioner,
    quote_ident,
    quote_literal,
)
from skyforge.adapters.dbprovision.passwords import scram_sha_256
from skyforge.kernel.errors import BadGateway, Conflict, Invalid, NotFound

Make = Callable[[], Awaitable[Credentials]]
HOSTILE = [
    "x; DROP DATABASE test",
    "sf_x; DROP DATABASE test",
    '"a"',
    'sf_a" SUPERUSER --',
    "A-b",
    "sf_A",
    "sf_a-b",
    "sf_" + "a" * 61,  # 64 characters
    "sf_ünïcode",
    "sf_١٢٣",  # Arabic-Indic digits match \d but not [0-9]
    "sf_a\x00b",
    "sf_a\nb",
    "sf_a ",
    "",
    "1sf",
    "_sf_a",
]


@pytest.fixture
def provisioner() -> PostgresProvisioner:
    return PostgresProvisioner(POSTGRES)


@pytest.fixture
async def make(provisioner: PostgresProvisioner) -> AsyncIterator[Make]:
    """Creates tenant databases named sf_test_<uuid>, all dropped after the test."""
    names: list[str] = []

    async def make() -> Credentials:
        names.append(f"sf_test_{uuid.uuid4().hex[:16]}")
        return await provisioner.create(names[-1])

    yield make
    for name in names:
        await provisioner.delete(name)


async def admin_fetchval(sql: str, *args: object) -> object:
    conn = await asyncpg.connect(POSTGRES)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_the_returned_url_reaches_a_database_the_app_can_write(make: Make) -> None:
    credentials = await make()
    conn = await asyncpg.connect(credentials.url)
    try:
        await conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        await conn.execute("INSERT INTO notes (body) VALUES ('hello')")
        assert await conn.fetchval("SELECT body FROM notes") == "hello"
        assert await conn.fetchval("SELECT current_user") == credentials.user
        assert await conn.fetchval("SELECT current_database()") == credentials.database
    finally:
        await conn.close()
    assert credentials.password not in repr(credentials)


async def test_the_role_owns_its_database_and_has_no_cluster_powers(make: Make) -> None:
    credentials = await make()
    conn = await asyncpg.connect(POSTGRES)
    try:
        role = await conn.fetchrow("SELECT * FROM pg_roles WHERE rolname = $1", credentials.user)
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
            credentials.database,
        )
        public_connect = await conn.fetchval(
            "SELECT has_database_privilege('public', $1, 'CONNECT')", credentials.database
        )
    finally:
        await conn.close()
    assert owner == credentials.user
    assert role["rolcanlogin"]
    flags = ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls")
    assert not any(role[flag] for flag in flags)
    assert role["rolconnlimit"] == 20
    assert public_connect is False


async def test_a_tenant_cannot_connect_to_another_tenants_database(make: Make) -> None:
    mine, theirs = await make(), await make()
    elsewhere = mine.url.rsplit("/", 1)[0] + "/" + theirs.database
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await asyncpg.connect(elsewhere)


async def test_create_repairs_a_skyforge_database_that_grants_connect_to_public_again(
    make: Make,
) -> None:
    theirs = await make()
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f"GRANT CONNECT ON DATABASE {quote_ident(theirs.database)} TO PUBLIC")
    finally:
        await conn.close()
    mine = await make()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(mine.url.rsplit("/", 1)[0] + "/" + theirs.database)


async def test_audit_names_every_other_database_a_tenant_can_reach(
    make: Make, provisioner: PostgresProvisioner
) -> None:
    # The shared server is not hardened (trust auth, PUBLIC may connect to `test`), so here we
    # hold audit() to the truth: each database the role reaches, besides its own, is reported.
    # Listed before the audit, tried after it: tests beside this one create and drop databases.
    credentials = await make()
    conn = await asyncpg.connect(POSTGRES)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datallowconn")
    finally:
        await conn.close()
    report = "\n".join(await provisioner.audit())
    reachable = set()
    for name in [row[0] for row in rows if row[0] != credentials.database]:
        try:
            other = await asyncpg.connect(credentials.url.rsplit("/", 1)[0] + "/" + name)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            continue  # refused, or dropped meanwhile
        await other.close()
        reachable.add(name)
    assert "test" in reachable  # what an operator must close: REVOKE CONNECT ... FROM PUBLIC
    for name in reachable:
        assert f"database {name!r} grants CONNECT to PUBLIC" in report
    assert "uses trust" in report


async def test_rotate_keeps_the_data_and_replaces_the_stored_verifier(
    make: Make, provisioner: PostgresProvisioner
) -> None:
    # This server trusts every login, so the password check itself is proven in
    # test_dbprovision_scram.py; here: the data survives and the verifier is new.
    before = await make()
    conn = await asyncpg.connect(before.url)
    await conn.execute("CREATE TABLE kept AS SELECT 42 AS answer")
    await conn.close()
    old_verifier = await admin_fetchval(
        "SELECT rolpassword FROM pg_authid WHERE rolname = $1", before.user
    )
    after = await provisioner.rotate(before.database)
    new_verifier = await admin_fetchval(
        "SELECT rolpassword FROM pg_authid WHERE rolname = $1", before.user
    )
    assert after.password != before.password and after.url != before.url
    assert old_verifier != new_verifier and str(new_verifier).startswith("SCRAM-SHA-256$4096:")
    conn = await asyncpg.connect(after.url)
    try:
        assert await conn.fetchval("SELECT answer FROM kept") == 42
    finally:
        await conn.close()


async def test_delete_ends_sessions_and_drops_the_database_and_role(
    provisioner: PostgresProvisioner,
) -> None:
    name = f"sf_test_{uuid.uuid4().hex[:16]}"
    credentials = await provisioner.create(name)
    try:
        session = await asyncpg.connect(credentials.url)
        await provisioner.delete(name)
        assert session.is_closed() or not await _alive(session)
        assert not await provisioner.exists(name)
        assert not await admin_fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", name)
        assert not await admin_fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        await provisioner.delete(name)  # already gone: nothing to do
    finally:
        await provisioner.delete(name)


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    finally:
        conn.terminate()
    return True


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_hostile_name_is_refused_before_any_sql_runs(name: str) -> None:
    # Nothing listens on port 1: had any SQL been attempted, the error would be BadGateway.
    unreachable = PostgresProvisioner("postgresql://postgres@127.0.0.1:1/test", timeout=1)
    for call in (unreachable.create, unreachable.rotate, unreachable.delete, unreachable.exists):
        with pytest.raises(Invalid, match="invalid"):
            await call(name)
    assert await admin_fetchval("SELECT count(*) FROM pg_database WHERE datname = 'test'") == 1


@pytest.mark.parametrize("name", ["test", "postgres", "template1", "root", "sf_"])
async def test_a_name_outside_the_skyforge_prefix_is_never_touched(name: str) -> None:
    provisioner = PostgresProvisioner(POSTGRES)
    with pytest.raises(Invalid, match="must start with 'sf_'"):
        await provisioner.delete(name)


async def test_a_role_skyforge_did_not_create_is_left_alone() -> None:
    name = f"sf_test_{uuid.uuid4().hex[:16]}"
    provisioner = PostgresProvisioner(POSTGRES)
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f"CREATE ROLE {quote_ident(name)}")
        with pytest.raises(Conflict, match="not created by SkyForge"):
            await provisioner.delete(name)
        with pytest.raises(NotFound):
            await provisioner.rotate(name)
        with pytest.raises(Conflict, match="already exists"):
            await provisioner.create(name)
        assert await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", name) == 1
    finally:
        await conn.execute(f"DROP ROLE IF EXISTS {quote_ident(name)}")
        await conn.close()


@pytest.mark.parametrize(
    "identifier", ['a"b', 'x"; DROP DATABASE test; --', "Mixed Case", "a\\b", "ü", "'", '""']
)
async def test_quoting_round_trips_any_identifier_and_literal(identifier: str) -> None:
    conn = await asyncpg.connect(POSTGRES)
    try:
        row = await conn.fetchrow(
            f"SELECT {quote_literal(identifier)} AS {quote_ident(identifier)}"
        )
        assert dict(row) == {identifier: identifier}
        await conn.execute("SET standard_conforming_strings = off")  # backslashes escape then
        assert await conn.fetchval(f"SELECT {quote_literal(identifier)}") == identifier
    finally:
        await conn.close()


async def test_errors_never_show_the_admin_password() -> None:
    secret = "hunter2-" + uuid.uuid4().hex
    provisioner = PostgresProvisioner(f"postgresql://postgres:{secret}@127.0.0.1:1/test", timeout=1)
    with pytest.raises(BadGateway) as caught:
        await provisioner.exists("sf_anything")
    assert secret not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_our_scram_verifier_passes_the_rfc_7677_exchange() -> None:
    # RFC 7677 section 3: user "user", password "pencil"; the client's proof must check out
    # against StoredKey, and ServerKey must sign the server's final message as given there.
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    _, keys = scram_sha_256("pencil", salt=salt).split("$", 2)[1:]
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = (
        f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        f"c=biws,r={nonce}"
    ).encode()
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    signature = hmac.new(stored_key, auth, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key
    server_signature = hmac.new(server_key, auth, hashlib.sha256).digest()
    assert base64.b64encode(server_signature) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
