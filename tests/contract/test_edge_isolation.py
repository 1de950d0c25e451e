"""The router is SkyForge's alone: its admin endpoint, its internal 503 server and its files are
out of reach of other users, and whatever differs from what SkyForge told it is put back.

Attacks by a deployed app run as an unprivileged user (`setpriv`, as the sandbox starts apps);
a hijack of the admin API is made as root, standing in for any way into it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.contract.test_edge import Backend, admin_loads, get, get_on
from tests.support import free_port

from skyforge.edge.base import Route
from skyforge.edge.caddy import CaddyEdge, CaddyError
from skyforge.edge.caddy_process import read_pidfile

HOST, KEY = "web.beta.localhost", "beta.web"
OTHER_HOST, OTHER_KEY = "web.alpha.localhost", "alpha.web"
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]

# Run as nobody: every way an app could reach the router's control surfaces. Prints, per
# attempt, "refused: <error>" or "succeeded".
ATTACKER = r"""
import json, os, socket, sys
data, edge_port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
results = {}

def attempt(name, action):
    try:
        action()
        results[name] = "succeeded"
    except OSError as error:
        results[name] = f"refused: {type(error).__name__}"

def connect_unix(path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(b"GET /config/ HTTP/1.1\r\nHost: x\r\n\r\n")
        if not sock.recv(100):
            raise ConnectionResetError("no answer")

def write(path):
    with open(path, "w") as f:
        f.write("127.0.0.1:9")

def create(folder):
    write(os.path.join(folder, ".hijack"))

def read(path):
    with open(path) as f:
        f.read()

def edge_answers():
    with socket.create_connection(("127.0.0.1", edge_port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: web.beta.localhost\r\nConnection: close\r\n\r\n")
        if not sock.recv(100).startswith(b"HTTP/1.1 "):
            raise ConnectionResetError("no answer")

attempt("connect the admin socket", lambda: connect_unix(f"{data}/run/caddy-admin.sock"))
attempt("connect the 503 server", lambda: connect_unix(f"{data}/run/edge-unavailable.sock"))
attempt("rewrite a slot file", lambda: write(f"{data}/edge/{key}/slot-0.dial"))
attempt("add a file to the slots", lambda: create(f"{data}/edge/{key}"))
attempt("read the slots", lambda: read(f"{data}/edge/{key}/slot-0.dial"))
attempt("rewrite the edge state", lambda: write(f"{data}/edge/state.json"))
attempt("read the edge state", lambda: read(f"{data}/edge/state.json"))
attempt("rewrite the boot config", lambda: write(f"{data}/run/caddy-bootstrap.json"))
attempt("rewrite the pidfile", lambda: write(f"{data}/run/caddy.pid"))
attempt("add an ownership token", lambda: create(f"{data}/edge-tokens/hosts"))
attempt("read Caddy's data", lambda: os.listdir(f"{data}/caddy/data"))
attempt("reach the edge port", edge_answers)  # the public side, as any client
print(json.dumps(results))
"""


def tcp_listeners(pid: int) -> set[int]:
    """The TCP ports a process listens on (any address)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def admin(edge: CaddyEdge) -> httpx.Client:
    """Caddy's admin API on its socket, as root: whoever got in (a hijack)."""
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=str(edge.admin_socket)),
        base_url="http://caddy-admin",
        headers={"Connection": "close"},
        timeout=10,
    )


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def open_data_dir() -> Iterator[Path]:
    """A data dir every user may enter (the worst case: the router must not rely on it)."""
    folder = Path(tempfile.mkdtemp(prefix="sf-iso-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def router(open_data_dir: Path) -> AsyncIterator[CaddyEdge]:
    edge = CaddyEdge(open_data_dir, free_port())
    try:
        yield edge
    finally:
        with contextlib.suppress(Exception):
            await edge.close()
        left = read_pidfile(open_data_dir / "run" / "caddy.pid")
        if left is not None:
            await left.stop()


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


async def routed(edge: CaddyEdge, backends: Callable[[], Backend]) -> tuple[Backend, Backend]:
    """Two teams' services, each on its backend; the first is beta's."""
    beta, alpha = backends(), backends()
    await edge.set_routes([Route(KEY, (HOST,)), Route(OTHER_KEY, (OTHER_HOST,))])
    await edge.set_upstreams(KEY, [beta.address])
    await edge.set_upstreams(OTHER_KEY, [alpha.address])
    await edge.set_verification_tokens({"shop.example.com": "t" * 32})
    return beta, alpha


# -- reach -------------------------------------------------------------------------------------


async def test_an_unprivileged_app_cannot_reach_the_routers_admin_503_server_or_files(
    router: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    with umask(0):  # whatever the umask the control plane was started with
        await router.start()
        await routed(router, backends)

    done = subprocess.run(
        [
            *NOBODY,
            sys.executable,
            "-I",
            "-c",
            ATTACKER,
            str(router.data_dir),
            str(router.edge_port),
            KEY,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results = json.loads(done.stdout)

    assert results.pop("reach the edge port") == "succeeded"
    assert {name for name, outcome in results.items() if outcome == "succeeded"} == set()
    assert len(results) == 11


async def test_the_admin_and_503_sockets_are_private_to_the_control_plane(
    router: CaddyEdge,
) -> None:
    with umask(0):
        await router.start()

    for sock in (router.admin_socket, router.unavailable_socket):
        mode = sock.lstat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) & 0o077 == 0
        assert sock.lstat().st_uid == os.geteuid()
    for folder in ("run", "edge", "edge-tokens", "caddy"):
        assert stat.S_IMODE((router.data_dir / folder).stat().st_mode) == 0o700


async def test_a_run_dir_another_user_owns_is_refused(router: CaddyEdge) -> None:
    # Whoever owns it could swap the admin socket for one of their own.
    (router.data_dir / "run").mkdir(mode=0o700)
    os.chown(router.data_dir / "run", 65534, 65534)

    with pytest.raises(CaddyError, match="owned by uid 65534"):
        await router.start()

    assert router.pid is None


async def test_caddy_listens_on_tcp_only_on_the_edge_port_even_after_a_config_without_admin(
    router: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    await router.start()
    await routed(router, backends)
    assert router.pid is not None
    assert tcp_listeners(router.pid) == {router.edge_port}

    # Without an "admin" block Caddy's default is a TCP endpoint (localhost:2019).
    with admin(router) as hijack:
        assert hijack.post("/load", json={"apps": {}}).status_code == 200
        assert hijack.get("/config/").status_code == 200  # still on the socket

    assert tcp_listeners(router.pid) == set()


# -- repair ------------------------------------------------------------------------------------


async def test_a_route_put_in_front_of_another_teams_hostname_is_removed_on_repair(
    router: CaddyEdge, backends: Callable[[], Backend], caplog: pytest.LogCaptureFixture
) -> None:
    await router.start()
    beta, alpha = await routed(router, backends)
    hostile = {
        "match": [{"host": [HOST]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": alpha.address}]}],
        "terminal": True,
    }
    with admin(router) as hijack:
        put = hijack.put("/config/apps/http/servers/edge/routes/0", json=hostile)
        assert put.status_code == 200, put.text
    assert get(router.edge_port, HOST)[:2] == (200, str(alpha.port))  # hijacked

    assert await router.repair() == ["config"]

    assert get(router.edge_port, HOST)[:2] == (200, str(beta.port))
    assert get(router.edge_port, OTHER_HOST)[:2] == (200, str(alpha.port))
    assert router.repairs()["config"] == 1
    assert (
        "differed from what SkyForge wants: its config differed at apps.http.servers.edge.routes"
        in caplog.text
    )


async def test_a_rewritten_slot_file_is_put_back_on_repair(
    router: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    await router.start()
    beta, alpha = await routed(router, backends)
    loads = admin_loads(router)
    for slot in (router.data_dir / "edge" / KEY).glob("slot-*.dial"):
        slot.write_text(alpha.address)
    assert get(router.edge_port, HOST)[:2] == (200, str(alpha.port))  # hijacked

    assert await router.repair() == ["slots"]

    assert {get(router.edge_port, HOST)[1] for _ in range(4)} == {str(beta.port)}
    assert admin_loads(router) == loads  # files only: no reload
    assert router.repairs() == {"config": 0, "process": 0, "slots": 1}


async def test_repair_leaves_a_router_that_runs_the_desired_config_untouched(
    router: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    await router.start()
    beta, _ = await routed(router, backends)
    loads = admin_loads(router)
    conn = http.client.HTTPConnection("127.0.0.1", router.edge_port, timeout=10)
    try:
        assert get_on(conn, HOST) == (200, str(beta.port))
        local_port = conn.sock.getsockname()[1]

        for _ in range(3):
            assert await router.repair() == []

        assert get_on(conn, HOST) == (200, str(beta.port))
        assert conn.sock.getsockname()[1] == local_port  # no reload reset it
    finally:
        conn.close()
    assert admin_loads(router) == loads
    assert router.repairs() == {"config": 0, "process": 0, "slots": 0}


async def test_an_admin_endpoint_moved_off_the_socket_is_brought_back_on_repair(
    router: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    await router.start()
    beta, _ = await routed(router, backends)
    moved = free_port()
    with admin(router) as hijack:
        config = hijack.get("/config/").json()
        config["admin"]["listen"] = f"127.0.0.1:{moved}"
        with contextlib.suppress(httpx.TransportError):  # the socket closes as it answers
            hijack.post("/load", json=config)
    hijacked_pid = router.pid
    assert hijacked_pid is not None and moved in tcp_listeners(hijacked_pid)

    assert await router.repair() == ["process"]

    assert router.pid is not None and router.pid != hijacked_pid
    assert tcp_listeners(router.pid) == {router.edge_port}
    assert get(router.edge_port, HOST)[:2] == (200, str(beta.port))
    with admin(router) as control:
        assert control.get("/config/").status_code == 200
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", moved)) != 0  # the TCP admin is gone


async def test_a_killed_caddy_is_started_again_on_repair(
    router: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    await router.start()
    beta, _ = await routed(router, backends)
    killed = read_pidfile(router.data_dir / "run" / "caddy.pid")
    assert killed is not None
    os.kill(killed.pid, 9)

    assert await router.repair() == ["process"]

    assert get(router.edge_port, HOST)[:2] == (200, str(beta.port))
    assert router.repairs()["process"] == 1
