"""Tenant Redis users on the real Redis: own keys only, no server-wide commands, clean removal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as redis
from redis.exceptions import AuthenticationError, ConnectionError, NoPermissionError, ResponseError

from skyforge.adapters.dbprovision import Credentials, RedisProvisioner
from skyforge.kernel.errors import BadGateway, Invalid, NotFound

REDIS = "redis://127.0.0.1:6379/0"
Make = Callable[[], Awaitable[Credentials]]


@pytest.fixture
def provisioner() -> RedisProvisioner:
    return RedisProvisioner(REDIS)


@pytest.fixture
async def make(provisioner: RedisProvisioner) -> AsyncIterator[Make]:
    """Creates users named sf_test_<uuid>; each is deleted with its keys after the test."""
    names: list[str] = []

    async def make() -> Credentials:
        names.append(f"sf_test_{uuid.uuid4().hex[:16]}")
        return await provisioner.create(names[-1])

    yield make
    for name in names:
        await provisioner.delete(name)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[str], redis.Redis]]:
    """Opens clients from URLs, all closed after the test."""
    opened: list[redis.Redis] = []

    def open_client(url: str) -> redis.Redis:
        opened.append(redis.from_url(url, decode_responses=True))
        return opened[-1]

    yield open_client
    for client in opened:
        await client.aclose()


async def test_a_user_reads_and_writes_its_own_prefixed_keys(
    make: Make, clients: Callable[[str], redis.Redis]
) -> None:
    credentials = await make()
    app = clients(credentials.url)
    prefix = credentials.key_prefix
    assert prefix == credentials.user + ":"
    await app.set(prefix + "greeting", "hello")
    await app.hset(prefix + "cart", mapping={"apples": 3})
    assert await app.get(prefix + "greeting") == "hello"
    assert await app.hget(prefix + "cart", "apples") == "3"
    assert await app.publish(prefix + "events", "ping") == 0
    with pytest.raises(NoPermissionError):
        await app.set("unprefixed", "x")  # the URL cannot add the prefix: apps must
    assert credentials.password not in repr(credentials)


async def test_a_user_cannot_reach_another_users_keys_or_channels(
    make: Make, clients: Callable[[str], redis.Redis]
) -> None:
    mine, theirs = await make(), await make()
    await clients(theirs.url).set(theirs.key_prefix + "secret", "theirs")
    me = clients(mine.url)
    for attempt in (
        me.get(theirs.key_prefix + "secret"),
        me.set(theirs.key_prefix + "secret", "mine"),
        me.delete(theirs.key_prefix + "secret"),
        me.rename(mine.key_prefix + "x", theirs.key_prefix + "x"),
        me.publish(theirs.key_prefix + "events", "spoof"),
        me.eval(f"return redis.call('GET', '{theirs.key_prefix}secret')", 0),
    ):
        with pytest.raises((NoPermissionError, ResponseError), match=r"permission|can't access"):
            await attempt
    assert await clients(theirs.url).get(theirs.key_prefix + "secret") == "theirs"


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "*"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("ACL", "LIST"),
        ("ACL", "SETUSER", "sf_evil", "on", "nopass", "+@all", "~*"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("RANDOMKEY",),
        ("DBSIZE",),
        ("SELECT", "1"),
        ("INFO",),
        ("CLIENT", "LIST"),
        ("CLIENT", "KILL", "ID", "1"),
        ("CLIENT", "TRACKING", "on", "BCAST"),
        ("PUBSUB", "CHANNELS"),
        ("FUNCTION", "FLUSH"),
        ("SCRIPT", "FLUSH"),
        ("MONITOR",),
        ("SAVE",),
        ("SWAPDB", "0", "1"),
        ("MOVE", "{p}k", "1"),
        ("COPY", "{p}k", "{p}copy", "DB", "1"),
        ("SORT", "{p}list", "BY", "other:*"),
        ("SHUTDOWN",),
        ("MEMORY", "STATS"),
        ("SLOWLOG", "GET"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
async def test_a_user_cannot_run_server_wide_commands(
    make: Make, clients: Callable[[str], redis.Redis], command: tuple[str, ...]
) -> None:
    credentials = await make()
    args = [part.format(p=credentials.key_prefix) for part in command]
    with pytest.raises(NoPermissionError):
        await clients(credentials.url).execute_command(*args)


async def test_rotate_keeps_keys_and_the_old_password_stops_working(
    make: Make, provisioner: RedisProvisioner, clients: Callable[[str], redis.Redis]
) -> None:
    before = await make()
    await clients(before.url).set(before.key_prefix + "kept", "yes")
    after = await provisioner.rotate(before.user)
    assert after.password != before.password
    with pytest.raises(AuthenticationError):
        await clients(before.url).ping()
    assert await clients(after.url).get(after.key_prefix + "kept") == "yes"


async def test_delete_removes_the_user_and_every_key_and_leaves_others_alone(
    make: Make, provisioner: RedisProvisioner, clients: Callable[[str], redis.Redis]
) -> None:
    doomed, bystander = await make(), await make()
    app = clients(doomed.url)
    async with app.pipeline(transaction=False) as pipe:
        for i in range(2500):  # more than one SCAN/UNLINK batch
            pipe.set(f"{doomed.key_prefix}{i}", i)
        await pipe.execute()
    await clients(bystander.url).set(bystander.key_prefix + "safe", "1")
    await provisioner.delete(doomed.user)
    assert not await provisioner.exists(doomed.user)
    with pytest.raises(ConnectionError):
        await app.ping()  # Redis closes the deleted user's connections
    with pytest.raises(AuthenticationError):
        await clients(doomed.url).ping()
    admin = clients(REDIS)
    assert [key async for key in admin.scan_iter(match=doomed.key_prefix + "*")] == []
    assert await admin.get(bystander.key_prefix + "safe") == "1"
    await provisioner.delete(doomed.user)  # already gone: nothing to do


async def test_rotate_of_an_unknown_user_is_not_found(provisioner: RedisProvisioner) -> None:
    with pytest.raises(NotFound):
        await provisioner.rotate(f"sf_test_{uuid.uuid4().hex[:16]}")


@pytest.mark.parametrize("name", ["default", "x; FLUSHALL", "sf_a*", "sf_a:b", "sf_A", "sf_ü"])
async def test_a_name_that_is_not_ours_or_not_plain_is_refused(name: str) -> None:
    unreachable = RedisProvisioner("redis://127.0.0.1:1/0", timeout=1)
    for call in (unreachable.create, unreachable.rotate, unreachable.delete, unreachable.exists):
        with pytest.raises(Invalid):
            await call(name)


async def test_audit_reports_a_default_user_without_a_password(
    provisioner: RedisProvisioner,
) -> None:
    admin = redis.from_url(REDIS, decode_responses=True)
    try:
        default = await admin.acl_getuser("default")
    finally:
        await admin.aclose()
    open_default = "on" in default["flags"] and "nopass" in default["flags"]
    report = await provisioner.audit()
    assert bool(report) == open_default  # the shared test server leaves it open
    assert all("ACL SETUSER default" in line for line in report)


async def test_errors_never_show_the_admin_password() -> None:
    secret = "hunter2-" + uuid.uuid4().hex
    provisioner = RedisProvisioner(f"redis://admin:{secret}@127.0.0.1:1/0", timeout=1)
    with pytest.raises(BadGateway) as caught:
        await provisioner.exists("sf_anything")
    assert secret not in str(caught.value) and "admin:***@" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
