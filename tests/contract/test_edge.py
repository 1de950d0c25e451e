"""The EdgeRouter contract: bookkeeping on NullEdge and CaddyEdge, routing through real Caddy."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.support import trickle

from skyforge.edge import validate
from skyforge.edge.base import EdgeRouter, Route
from skyforge.edge.caddy import CaddyEdge, CaddyError
from skyforge.edge.caddy_config import MIN_CAPACITY, ServerTimeouts, build_config, encode
from skyforge.edge.caddy_process import read_pidfile
from skyforge.edge.null import NullEdge
from skyforge.kernel.errors import Invalid

HOST = "a.p.localhost"
KEY = "p.a"
IMPLEMENTATIONS: tuple[type[EdgeRouter], ...] = (NullEdge, CaddyEdge)  # mypy checks the port

# -- helpers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # Caddy keeps connections to the backend, as with real apps
    timeout = 5  # idle keep-alive handler threads end by themselves
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        body = str(self.connection.getsockname()[1]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # reads the whole body first, as an app would
        read = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.server.bodies.append(read)  # type: ignore[attr-defined]
        body = f"read {read}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the edge may have given up on this request
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Backend:
    """An HTTP server on 127.0.0.1 that answers every GET with its own port."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.bodies = []  # type: ignore[attr-defined]  # the length of each POST's body
        self.port = int(self.server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


def get(port: int, host: str) -> tuple[int, str, http.client.HTTPResponse]:
    """GET / through the edge on a fresh connection: status, body and the response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(), response
    finally:
        conn.close()


def get_on(conn: http.client.HTTPConnection, host: str) -> tuple[int, str]:
    """GET / on an open (keep-alive) connection: status and body."""
    conn.request("GET", "/", headers={"Host": host})
    response = conn.getresponse()
    return response.status, response.read().decode()


def slots(edge: CaddyEdge, key: str) -> list[str]:
    """What each slot file of a route dials, in slot order."""
    folder = edge.data_dir / "edge" / key
    return [(folder / f"slot-{i}.dial").read_text() for i in range(len(list(folder.iterdir())))]


def log_entries(edge: CaddyEdge) -> list[dict[str, object]]:
    entries = []
    for line in edge.log_path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entries.append(json.loads(line))
    return entries


def admin_loads(edge: CaddyEdge) -> int:
    """How many configs were posted to Caddy's admin API."""
    return sum(1 for entry in log_entries(edge) if entry.get("uri") == "/load")


def log_messages(edge: CaddyEdge) -> list[object]:
    return [entry.get("msg") for entry in log_entries(edge)]


def process_exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


# -- fixtures ----------------------------------------------------------------------------------


MakeEdge = Callable[..., CaddyEdge]


@pytest.fixture
async def make_edge(tmp_path: Path) -> AsyncIterator[MakeEdge]:
    """CaddyEdges on a data dir and a free port; every Caddy they started is stopped at the end."""
    made: list[CaddyEdge] = []

    def make(data_dir: Path | None = None, port: int | None = None, **options: Any) -> CaddyEdge:
        made.append(CaddyEdge(data_dir or tmp_path, port or free_port(), **options))
        return made[-1]

    try:
        yield make
    finally:
        for edge in made:
            with contextlib.suppress(Exception):
                await edge.close()
            left_running = read_pidfile(edge.data_dir / "run" / "caddy.pid")
            if left_running is not None:
                await left_running.stop()


@pytest.fixture
async def caddy(make_edge: MakeEdge) -> CaddyEdge:
    edge = make_edge()
    await edge.start()
    return edge


@pytest.fixture(params=["null", "caddy"])
async def edge(request: pytest.FixtureRequest, make_edge: MakeEdge) -> NullEdge | CaddyEdge:
    router: NullEdge | CaddyEdge = NullEdge() if request.param == "null" else make_edge()
    await router.start()
    return router


# -- the contract, for every implementation ----------------------------------------------------


async def test_routes_and_upstreams_are_remembered_in_any_order(
    edge: NullEdge | CaddyEdge,
) -> None:
    await edge.set_upstreams(KEY, ["127.0.0.1:4001"])
    await edge.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await edge.set_upstreams("p.b", ["127.0.0.1:4002", "127.0.0.1:4003"])

    assert set(edge.routes) == {Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))}
    assert edge.upstreams == {KEY: ["127.0.0.1:4001"], "p.b": ["127.0.0.1:4002", "127.0.0.1:4003"]}


async def test_set_routes_replaces_the_whole_set(edge: NullEdge | CaddyEdge) -> None:
    await edge.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await edge.set_routes([Route("p.b", ("b.p.localhost",))])
    await edge.set_upstreams("p.b", [])

    assert edge.routes == [Route("p.b", ("b.p.localhost",))]
    assert edge.upstreams == {"p.b": []}


async def test_start_and_close_can_be_called_twice(edge: NullEdge | CaddyEdge) -> None:
    await edge.start()
    await edge.close()
    await edge.close()


# -- routing through real Caddy ----------------------------------------------------------------


async def test_a_routed_host_reaches_its_upstream_in_any_letter_case(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    backend = backends()
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [backend.address])

    assert get(caddy.edge_port, HOST)[:2] == (200, str(backend.port))
    assert get(caddy.edge_port, "A.P.LocalHost:80")[:2] == (200, str(backend.port))


async def test_an_unknown_host_gets_a_404_page(caddy: CaddyEdge) -> None:
    await caddy.set_routes([Route(KEY, (HOST,))])

    status, body, response = get(caddy.edge_port, "nope.p.localhost")

    assert status == 404
    assert "No app is routed at this hostname" in body
    assert "nope.p.localhost" in body
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"


async def test_a_route_without_upstreams_gets_a_503_page(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    await caddy.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await caddy.set_upstreams("p.b", [backends().address])
    await caddy.set_upstreams("p.b", [])

    for host in (HOST, "b.p.localhost"):  # upstreams never set, or set to none
        status, body, response = get(caddy.edge_port, host)
        assert status == 503
        assert f"{host}</code> has no running release" in body
        assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    # Caddy's own 503 server answers them, through the same slots the upstreams will use.
    assert slots(caddy, "p.b") == [f"unix/{caddy.unavailable_socket}"] * MIN_CAPACITY


async def test_a_route_in_maintenance_answers_the_maintenance_page_without_a_reload(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    backend, other = backends(), backends()
    await caddy.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await caddy.set_upstreams(KEY, [backend.address])
    await caddy.set_upstreams("p.b", [other.address])
    loads = admin_loads(caddy)

    await caddy.set_routes(
        [Route(KEY, (HOST,), maintenance=True), Route("p.b", ("b.p.localhost",))]
    )
    await caddy.set_upstreams(KEY, [backend.address, other.address])  # a rollout meanwhile
    status, body, response = get(caddy.edge_port, HOST)

    assert status == 503
    assert f"{HOST}</code> is down for maintenance" in body
    assert response.getheader("Retry-After") == "60"
    assert get(caddy.edge_port, "b.p.localhost")[:2] == (200, str(other.port))  # others serve
    assert slots(caddy, KEY) == [f"unix/{caddy.maintenance_socket}"] * MIN_CAPACITY
    assert [r.maintenance for r in caddy.routes] == [True, False]  # by key: p.a, p.b

    await caddy.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])

    assert get(caddy.edge_port, HOST)[0] == 200  # back to its upstreams, both of them
    assert admin_loads(caddy) == loads  # slot files only: Caddy never reloaded


async def test_a_route_scaled_to_zero_says_so_not_that_it_has_no_release(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    backend = backends()
    await caddy.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await caddy.set_upstreams(KEY, [backend.address])
    loads = admin_loads(caddy)

    # web=0: the runtime stops its instances, the route says it is scaled to zero.
    await caddy.set_routes(
        [Route(KEY, (HOST,), scaled_to_zero=True), Route("p.b", ("b.p.localhost",))]
    )
    await caddy.set_upstreams(KEY, [])
    status, body, _ = get(caddy.edge_port, HOST)

    assert status == 503
    assert f"{HOST}</code> is scaled to 0 web processes" in body
    assert "no running release" not in body
    # A route that never had a release still says so.
    assert "no running release" in get(caddy.edge_port, "b.p.localhost")[1]

    await caddy.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await caddy.set_upstreams(KEY, [backend.address])

    assert get(caddy.edge_port, HOST)[:2] == (200, str(backend.port))
    assert admin_loads(caddy) == loads  # slot files only: Caddy never reloaded


async def test_maintenance_survives_a_restart_of_the_control_plane(
    make_edge: MakeEdge, tmp_path: Path, backends: Callable[[], Backend]
) -> None:
    backend, port = backends(), free_port()
    first = make_edge(tmp_path, port)
    await first.start()
    await first.set_routes([Route(KEY, (HOST,), maintenance=True)])
    await first.set_upstreams(KEY, [backend.address])
    await first.close()

    again = make_edge(tmp_path, port)
    await again.start()
    try:
        status, body, _ = get(port, HOST)
        assert status == 503
        assert "down for maintenance" in body
    finally:
        await again.close()


async def test_a_first_release_and_its_removal_never_reload_caddy(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    backend = backends()
    await caddy.set_routes([Route(KEY, (HOST,))])
    loads = admin_loads(caddy)
    conn = http.client.HTTPConnection("127.0.0.1", caddy.edge_port, timeout=10)
    try:
        assert get_on(conn, HOST)[0] == 503
        local_port = conn.sock.getsockname()[1]

        await caddy.set_upstreams(KEY, [backend.address])  # the first release is up
        assert get_on(conn, HOST) == (200, str(backend.port))
        await caddy.set_upstreams(KEY, [])  # and gone again
        status, body = get_on(conn, HOST)

        assert status == 503
        assert f"{HOST}</code> has no running release" in body
        assert conn.sock.getsockname()[1] == local_port  # the keep-alive connection lived on
    finally:
        conn.close()
    assert admin_loads(caddy) == loads


async def test_switching_upstreams_drops_no_request_and_never_reloads_caddy(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    blue, green = backends(), backends()
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [blue.address])
    loads_before = admin_loads(caddy)
    hammer = Hammer(caddy.edge_port)

    with hammer:
        for switch in range(20):
            await caddy.set_upstreams(KEY, [(green if switch % 2 == 0 else blue).address])
            await asyncio.sleep(0.05)

    assert hammer.failures == []
    assert hammer.keep_alive_requests > 50 and hammer.new_connection_requests > 50
    assert hammer.seen == {str(blue.port), str(green.port)}
    assert hammer.keep_alive_local_ports == 1  # the keep-alive connection was never reset
    assert admin_loads(caddy) == loads_before
    assert get(caddy.edge_port, HOST)[1] == str(blue.port)  # the last switch went to blue


async def test_scaling_from_one_to_three_upstreams_balances_between_all(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    instances = [backends() for _ in range(3)]
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [instances[0].address])
    assert {get(caddy.edge_port, HOST)[1] for _ in range(6)} == {str(instances[0].port)}

    await caddy.set_upstreams(KEY, [i.address for i in instances])

    answers = [get(caddy.edge_port, HOST)[1] for _ in range(MIN_CAPACITY)]
    # Round robin over the slots, each instance in the same number of them: an even split.
    assert sorted(answers) == sorted([str(i.port) for i in instances] * (MIN_CAPACITY // 3))
    await caddy.set_upstreams(KEY, [instances[2].address])
    assert {get(caddy.edge_port, HOST)[1] for _ in range(6)} == {str(instances[2].port)}
    assert slots(caddy, KEY) == [instances[2].address] * MIN_CAPACITY


async def test_scaling_up_and_down_drops_no_request_and_never_reloads_caddy(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    instances = [backends() for _ in range(3)]
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [instances[0].address])
    loads_before = admin_loads(caddy)
    hammer = Hammer(caddy.edge_port)

    with hammer:
        for _ in range(3):
            for count in (3, 1, 2, 1):
                await caddy.set_upstreams(KEY, [i.address for i in instances[:count]])
                await asyncio.sleep(0.05)

    assert hammer.failures == []
    assert hammer.keep_alive_requests > 50 and hammer.new_connection_requests > 50
    assert hammer.seen == {str(i.port) for i in instances}
    assert hammer.keep_alive_local_ports == 1  # the keep-alive connection was never reset
    assert admin_loads(caddy) == loads_before


async def test_outgrowing_the_slots_reloads_caddy_once_and_keeps_the_slots(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    instances = [backends() for _ in range(MIN_CAPACITY + 1)]
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [instances[0].address])
    loads = admin_loads(caddy)

    await caddy.set_upstreams(KEY, [i.address for i in instances])

    assert admin_loads(caddy) == loads + 1
    assert len(slots(caddy, KEY)) == 2 * MIN_CAPACITY
    answers = {get(caddy.edge_port, HOST)[1] for _ in range(2 * MIN_CAPACITY)}
    assert answers == {str(i.port) for i in instances}
    await caddy.set_upstreams(KEY, [instances[0].address])  # back down: the slots stay
    assert admin_loads(caddy) == loads + 1
    assert slots(caddy, KEY) == [instances[0].address] * 2 * MIN_CAPACITY


async def test_a_dead_upstream_is_retried_on_another(
    caddy: CaddyEdge, backends: Callable[[], Backend]
) -> None:
    alive = backends()
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [f"127.0.0.1:{free_port()}", alive.address])

    assert [get(caddy.edge_port, HOST)[:2] for _ in range(6)] == [(200, str(alive.port))] * 6


async def test_a_route_whose_upstreams_all_fail_gets_the_503_page_after_retrying(
    caddy: CaddyEdge,
) -> None:
    await caddy.set_routes([Route(KEY, (HOST,))])
    await caddy.set_upstreams(KEY, [f"127.0.0.1:{free_port()}"])
    started = time.monotonic()

    status, body, _ = get(caddy.edge_port, HOST)

    assert status == 503
    assert f"{HOST}</code> has no running release" in body
    assert time.monotonic() - started > 4  # Caddy kept trying for TRY_DURATION (5 s) first


async def test_setting_the_same_routes_again_does_not_touch_caddy(caddy: CaddyEdge) -> None:
    routes = [Route(KEY, (HOST, "www.example.com")), Route("p.b", ("b.p.localhost",))]
    await caddy.set_routes(routes)
    loads = admin_loads(caddy)

    await caddy.set_routes(list(reversed(routes)))
    await caddy.set_routes([Route(KEY, ("WWW.example.com", HOST)), routes[1]])
    await caddy.set_upstreams("p.b", [])  # still none: nothing changes

    assert admin_loads(caddy) == loads


async def test_a_removed_route_loses_its_slot_files(caddy: CaddyEdge) -> None:
    await caddy.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    await caddy.set_upstreams("p.b", ["127.0.0.1:4002"])

    await caddy.set_routes([Route(KEY, (HOST,))])

    assert sorted(p.name for p in (caddy.data_dir / "edge").iterdir()) == [KEY, "state.json"]
    assert get(caddy.edge_port, "b.p.localhost")[0] == 404
    assert caddy.upstreams == {"p.b": ["127.0.0.1:4002"]}  # remembered if routed again


async def test_two_instances_run_side_by_side(
    make_edge: MakeEdge, tmp_path: Path, backends: Callable[[], Backend]
) -> None:
    first, second = make_edge(tmp_path / "one"), make_edge(tmp_path / "two")
    await first.start()
    await second.start()
    for edge in (first, second):
        backend = backends()
        await edge.set_routes([Route(KEY, (HOST,))])
        await edge.set_upstreams(KEY, [backend.address])
        assert get(edge.edge_port, HOST)[:2] == (200, str(backend.port))
    assert first.pid != second.pid


async def test_a_restarted_control_plane_adopts_the_running_caddy(
    make_edge: MakeEdge, tmp_path: Path, backends: Callable[[], Backend]
) -> None:
    backend, port = backends(), free_port()
    killed = make_edge(tmp_path, port)
    await killed.start()
    await killed.set_routes([Route(KEY, (HOST,)), Route("p.b", ("b.p.localhost",))])
    # Grown past its first slots and back: the restart must know the slot count it left.
    await killed.set_upstreams(KEY, [f"127.0.0.1:{9000 + i}" for i in range(MIN_CAPACITY + 1)])
    await killed.set_upstreams(KEY, [backend.address])
    pid, servers_started = killed.pid, log_messages(killed).count("server running")
    del killed  # the control plane died: nothing was closed

    restarted = make_edge(tmp_path, port)
    await restarted.start()

    assert restarted.adopted and restarted.pid == pid
    assert get(port, HOST)[:2] == (200, str(backend.port))  # routes survived without set_routes
    assert get(port, "b.p.localhost")[0] == 503
    assert log_messages(restarted)[-2] == "config is unchanged"
    assert log_messages(restarted).count("server running") == servers_started  # no reload
    await restarted.close()
    assert pid is not None and not process_exists(pid)
    assert not (tmp_path / "run" / "caddy.pid").exists()


async def test_start_fails_clearly_when_the_edge_port_is_taken(make_edge: MakeEdge) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        edge = make_edge(port=taken.getsockname()[1])

        with pytest.raises(CaddyError, match="already in use"):
            await edge.start()

    assert edge.pid is None
    assert not (edge.data_dir / "run" / "caddy.pid").exists()


# -- validation and the config, without Caddy --------------------------------------------------


@pytest.mark.parametrize("key", ["", "-a", "P.A", "a/b", "..", "a b", "x" * 129])
async def test_bad_keys_are_rejected(key: str, tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        await CaddyEdge(tmp_path, free_port()).set_upstreams(key, [])


@pytest.mark.parametrize(
    "hostname", ["", "a..b", "-a.localhost", "a_b.localhost", "a.localhost.", "*.x.com", "a:80"]
)
def test_bad_hostnames_are_rejected(hostname: str) -> None:
    with pytest.raises(Invalid):
        validate.routes([Route(KEY, (hostname,))])


def test_a_hostname_cannot_go_to_two_routes() -> None:
    with pytest.raises(Invalid, match="both"):
        validate.routes([Route(KEY, (HOST,)), Route("p.b", (HOST.upper(),))])


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1:80",
        "localhost:80",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:080",
        "127.0.0.01:80",
        "::1:80",
        "[::2]:80",
        "127.0.0.1:80/x",
        "{file./etc/passwd}",
    ],
)
def test_bad_upstream_addresses_are_rejected(address: str) -> None:
    with pytest.raises(Invalid):
        validate.upstream_address(address)


def test_a_slot_may_dial_only_loopback_or_the_edges_own_503_server(tmp_path: Path) -> None:
    unavailable = f"unix/{tmp_path}/run/edge-unavailable.sock"

    assert validate.slot_address(unavailable, unavailable) == unavailable
    assert validate.slot_address("127.0.0.1:80", unavailable) == "127.0.0.1:80"
    for other in (f"unix/{tmp_path}/run/other.sock", "unix//etc/passwd", "10.0.0.1:80"):
        with pytest.raises(Invalid):
            validate.slot_address(other, unavailable)
    with pytest.raises(Invalid):  # callers cannot pass it as an upstream
        validate.upstream_address(unavailable)


@pytest.mark.parametrize("name", ["a|b", "a{b", "a}b", "a\\b"])
def test_data_dirs_caddy_would_misread_are_rejected(name: str, tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        CaddyEdge(tmp_path / name, free_port())


def test_a_data_dir_too_long_for_the_503_servers_socket_is_rejected(tmp_path: Path) -> None:
    # 84 bytes: run/caddy-admin.sock fits in a unix socket address (107), edge-unavailable.sock not.
    data_dir = tmp_path.resolve() / ("x" * (83 - len(str(tmp_path.resolve()))))
    assert len(str(data_dir / "run" / "caddy-admin.sock")) <= 107

    with pytest.raises(Invalid, match="too long"):
        CaddyEdge(data_dir, free_port())


def test_loopback_addresses_are_accepted() -> None:
    assert validate.upstream_address("127.0.0.1:8080") == "127.0.0.1:8080"
    assert validate.upstream_address("127.0.1.2:1") == "127.0.1.2:1"
    assert validate.upstream_address("[0:0::1]:65535") == "[::1]:65535"


def test_the_config_does_not_depend_on_the_order_routes_are_given_in(tmp_path: Path) -> None:
    routes = [Route(KEY, (HOST, "x.com")), Route("p.b", ("b.p.localhost",))]

    def config(given: list[Route]) -> bytes:
        return encode(
            build_config(
                admin_socket=tmp_path / "admin.sock",
                listen="127.0.0.1:8080",
                unavailable_socket=tmp_path / "unavailable.sock",
                edge_dir=tmp_path,
                routes=validate.routes(given),
                slots={KEY: 2},
            )
        )

    assert config(routes) == config([routes[1], Route(KEY, ("X.com", HOST))])
    assert f'"dial":"{{file.{tmp_path}/p.a/slot-1.dial}}"'.encode() in config(routes)


# -- slow clients ------------------------------------------------------------------------------


def test_the_config_bounds_how_long_a_client_may_take(tmp_path: Path) -> None:
    config = build_config(
        admin_socket=tmp_path / "admin.sock",
        listen="127.0.0.1:8080",
        unavailable_socket=tmp_path / "unavailable.sock",
        edge_dir=tmp_path,
        routes={},
        slots={},
    )
    for server in config["apps"]["http"]["servers"].values():
        assert server["read_header_timeout"] == "10000ms"  # the defaults
        assert server["read_timeout"] == "60000ms"
        assert server["idle_timeout"] == "120000ms"
    with pytest.raises(ValueError):
        ServerTimeouts(read_header=0)


SLOW = ServerTimeouts(read_header=1.0, read_body=2.0, idle=5.0)


@pytest.fixture
async def slow_edge(
    make_edge: MakeEdge, backends: Callable[[], Backend]
) -> tuple[CaddyEdge, Backend]:
    """Real Caddy with deadlines of a second or two, routing HOST to a backend."""
    edge, backend = make_edge(timeouts=SLOW), backends()
    await edge.start()
    await edge.set_routes([Route(KEY, (HOST,))])
    await edge.set_upstreams(KEY, [backend.address])
    assert get(edge.edge_port, HOST)[0] == 200  # prompt clients are served
    return edge, backend


def edge_socket(edge: CaddyEdge) -> socket.socket:
    return socket.create_connection(("127.0.0.1", edge.edge_port), timeout=15)


async def test_a_client_trickling_its_headers_through_the_edge_is_cut_off(
    slow_edge: tuple[CaddyEdge, Backend],
) -> None:
    edge, _ = slow_edge
    endless = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nX-Filler: {'a' * 400}\r\n\r\n".encode()
    with edge_socket(edge) as sock:
        answer = await asyncio.to_thread(trickle, sock, endless)
    assert b"200 OK" not in answer


async def test_a_client_trickling_a_body_through_the_edge_is_cut_off_from_the_app(
    slow_edge: tuple[CaddyEdge, Backend],
) -> None:
    edge, backend = slow_edge
    start = f"POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 1000\r\n\r\n".encode()
    with edge_socket(edge) as sock:
        sock.sendall(start)
        for _ in range(100):  # a byte every 0.2 s: 20 s, far past the 2 s bound
            sock.sendall(b"x")
            await asyncio.sleep(0.2)
            if backend.server.bodies:  # type: ignore[attr-defined]
                break
    # The app's request ended at the bound with the little that had come (Caddy 2.11 keeps the
    # client's own connection until the client goes, draining what it still sends: see README).
    [read] = backend.server.bodies  # type: ignore[attr-defined]
    assert 0 < read < 100

    with edge_socket(edge) as sock:  # the same request sent promptly goes through
        sock.sendall(start + b"x" * 1000)
        assert b"read 1000" in await asyncio.to_thread(sock.recv, 65536)


async def test_a_trickled_body_no_app_reads_is_cut_off(
    slow_edge: tuple[CaddyEdge, Backend],
) -> None:
    edge, _ = slow_edge
    start = b"POST / HTTP/1.1\r\nHost: nobody.p.localhost\r\nContent-Length: 1000\r\n\r\n"
    with edge_socket(edge) as sock:
        sock.sendall(start)
        answer = await asyncio.to_thread(trickle, sock, b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n"), answer


async def test_an_idle_kept_alive_connection_to_the_edge_is_closed(
    slow_edge: tuple[CaddyEdge, Backend],
) -> None:
    edge, _ = slow_edge
    with edge_socket(edge) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        answer = await asyncio.to_thread(trickle, sock, b"")  # then nothing more
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer


# -- load --------------------------------------------------------------------------------------


class Hammer:
    """Two client threads: one keep-alive connection, and a new connection per request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.failures: list[str] = []
        self.seen: set[str] = set()
        self.keep_alive_requests = 0
        self.new_connection_requests = 0
        self._local_ports: set[int] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._keep_alive),
            threading.Thread(target=self._new_connections),
        ]

    @property
    def keep_alive_local_ports(self) -> int:
        return len(self._local_ports)

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.1)
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _keep_alive(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            while not self._stop.is_set():
                self._request(conn)
                self.keep_alive_requests += 1
                if conn.sock is not None:
                    self._local_ports.add(conn.sock.getsockname()[1])
        finally:
            conn.close()

    def _new_connections(self) -> None:
        while not self._stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self._request(conn)
                self.new_connection_requests += 1
            finally:
                conn.close()

    def _request(self, conn: http.client.HTTPConnection) -> None:
        try:
            conn.request("GET", "/", headers={"Host": HOST})
            response = conn.getresponse()
            body = response.read().decode()
        except (OSError, http.client.HTTPException) as error:
            self.failures.append(repr(error))
            conn.close()
            return
        if response.status != 200:
            self.failures.append(f"{response.status} {body[:80]}")
        self.seen.add(body)
