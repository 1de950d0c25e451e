"""HTTPS through real Caddy: custom hostnames, the local CA, redirects, ownership tokens."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from skyforge.adapters.dns import HttpTokenVerifier
from skyforge.edge.base import Route
from skyforge.edge.caddy import CaddyEdge, CaddyError
from skyforge.edge.caddy_process import read_pidfile

SHOP = "shop.example.test"
LOCAL = "web.shop.localhost"
KEY = "shop.web"
TOKEN = "tok-" + "x" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"app {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def app() -> Iterator[str]:
    """An app on 127.0.0.1 answering every GET with "app <path>"; yields its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MakeEdge = Callable[..., CaddyEdge]


@pytest.fixture
async def make_edge(tmp_path: Path) -> AsyncIterator[MakeEdge]:
    made: list[CaddyEdge] = []

    def make(data_dir: Path | None = None, port: int | None = None, https: int = 0) -> CaddyEdge:
        edge = CaddyEdge(data_dir or tmp_path, port or free_port(), https_port=https or free_port())
        made.append(edge)
        return edge

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
async def edge(make_edge: MakeEdge, app: str) -> CaddyEdge:
    """Caddy with HTTPS, routing the generated name and a custom one (TLS) to the app."""
    edge = make_edge()
    await edge.start()
    await edge.set_routes([Route(KEY, (LOCAL, SHOP), tls=(SHOP,))])
    await edge.set_upstreams(KEY, [app])
    return edge


async def https_get(
    edge: CaddyEdge, host: str, path: str = "/", *, verify: ssl.SSLContext | bool = True
) -> httpx.Response:
    """GET over HTTPS on 127.0.0.1 with `host` as SNI and Host, trusting the local CA."""
    context = ssl.create_default_context(cafile=str(edge.ca_root)) if verify is True else verify
    async with httpx.AsyncClient(verify=context) as client:
        return await client.get(
            f"https://127.0.0.1:{edge.https_port}{path}",
            headers={"Host": host},
            extensions={"sni_hostname": host},
        )


async def http_get(edge: CaddyEdge, host: str, path: str = "/") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{edge.edge_port}{path}", headers={"Host": host})


def admin_loads(edge: CaddyEdge) -> int:
    lines = edge.log_path.read_text().splitlines()
    return sum(1 for line in lines if '"uri":"/load"' in line.replace(" ", ""))


async def test_a_tls_hostname_answers_over_https_with_a_certificate_from_the_local_ca(
    edge: CaddyEdge,
) -> None:
    response = await https_get(edge, SHOP, "/hello")

    assert (response.status_code, response.text) == (200, "app /hello")
    assert response.http_version == "HTTP/1.1"
    assert (await http_get(edge, SHOP)).text == "app /"  # no redirect unless asked
    assert edge.ca_root.is_relative_to(edge.data_dir / "caddy")


async def test_the_handshake_fails_without_trusting_the_local_ca(edge: CaddyEdge) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await https_get(edge, SHOP, verify=ssl.create_default_context())


async def test_only_tls_hostnames_are_served_over_https(edge: CaddyEdge) -> None:
    with pytest.raises(httpx.ConnectError):  # no certificate for the generated name
        await https_get(edge, LOCAL)
    # A certified SNI cannot reach a name that is not served over HTTPS.
    trusting = ssl.create_default_context(cafile=str(edge.ca_root))
    async with httpx.AsyncClient(verify=trusting) as client:
        response = await client.get(
            f"https://127.0.0.1:{edge.https_port}/",
            headers={"Host": LOCAL},
            extensions={"sni_hostname": SHOP},
        )
    assert response.status_code == 404
    assert (await http_get(edge, LOCAL)).text == "app /"


async def test_plain_http_redirects_to_https_when_asked(edge: CaddyEdge) -> None:
    await edge.set_routes([Route(KEY, (LOCAL, SHOP), tls=(SHOP,), redirect_https=(SHOP,))])

    response = await http_get(edge, SHOP, "/cart?item=1")

    assert response.status_code == 308
    assert response.headers["Location"] == f"https://{SHOP}:{edge.https_port}/cart?item=1"
    assert (await https_get(edge, SHOP, "/cart?item=1")).text == "app /cart?item=1"
    assert (await http_get(edge, LOCAL)).status_code == 200  # the generated name is not


async def test_verification_tokens_are_served_without_reloading_caddy(edge: CaddyEdge) -> None:
    await edge.set_routes([Route(KEY, (LOCAL, SHOP), tls=(SHOP,), redirect_https=(SHOP,))])
    loads = admin_loads(edge)
    path = f"/.well-known/skyforge/{TOKEN}"

    await edge.set_verification_tokens({SHOP: TOKEN, "new.example.com": TOKEN})

    for response in (await http_get(edge, SHOP, path), await https_get(edge, SHOP, path)):
        assert (response.status_code, response.text) == (200, TOKEN)  # before the redirect
    assert (await http_get(edge, "new.example.com", path)).text == TOKEN  # not routed yet
    assert (await http_get(edge, LOCAL, path)).text == f"app {path}"  # another host: the app's
    assert (await http_get(edge, "..", path)).status_code in (400, 404)
    verifier = HttpTokenVerifier(port=edge.edge_port, connect_to="127.0.0.1", timeout=5)
    assert (await verifier.verify("new.example.com", TOKEN)).verified

    await edge.set_verification_tokens({})

    assert (await http_get(edge, "new.example.com", path)).status_code == 404
    assert (await http_get(edge, SHOP, path)).status_code == 308
    assert admin_loads(edge) == loads


async def test_removing_a_route_stops_its_https_at_once(edge: CaddyEdge) -> None:
    await edge.set_routes([Route("p.other", ("other.example.test",), tls=("other.example.test",))])

    with pytest.raises(httpx.ConnectError):
        await https_get(edge, SHOP)
    assert (await http_get(edge, SHOP)).status_code == 404
    assert (await https_get(edge, "other.example.test")).status_code == 503  # no upstreams


async def test_a_restarted_control_plane_adopts_caddy_with_its_tls_routes(
    make_edge: MakeEdge, tmp_path: Path, app: str
) -> None:
    port, https = free_port(), free_port()
    first = make_edge(tmp_path, port, https)
    await first.start()
    await first.set_routes([Route(KEY, (LOCAL, SHOP), tls=(SHOP,), redirect_https=(SHOP,))])
    await first.set_upstreams(KEY, [app])
    loads = admin_loads(first)
    del first  # the control plane died: nothing was closed

    restarted = make_edge(tmp_path, port, https)
    await restarted.start()

    assert restarted.adopted
    assert restarted.routes == [Route(KEY, (SHOP, LOCAL), (SHOP,), (SHOP,))]
    assert (await https_get(restarted, SHOP)).text == "app /"
    assert (await http_get(restarted, SHOP)).status_code == 308
    messages = [json.loads(line).get("msg") for line in restarted.log_path.read_text().splitlines()]
    assert messages.count("config is unchanged") == 1 and admin_loads(restarted) == loads + 1
    assert "root certificate trust store installation disabled" in " ".join(map(str, messages))


async def test_two_instances_have_their_own_ca_and_ports(
    make_edge: MakeEdge, tmp_path: Path
) -> None:
    one, two = make_edge(tmp_path / "one"), make_edge(tmp_path / "two")
    for edge in (one, two):
        await edge.start()
        await edge.set_routes([Route(KEY, (SHOP,), tls=(SHOP,))])
        assert (await https_get(edge, SHOP)).status_code == 503

    assert one.ca_root.read_bytes() != two.ca_root.read_bytes()
    with pytest.raises(httpx.ConnectError):  # one's CA does not vouch for two's certificate
        await https_get(two, SHOP, verify=ssl.create_default_context(cafile=str(one.ca_root)))


async def test_start_fails_clearly_when_the_https_port_is_taken(make_edge: MakeEdge) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        edge = make_edge(https=taken.getsockname()[1])

        with pytest.raises(CaddyError, match=f"127.0.0.1:{edge.https_port}.* already in use"):
            await edge.start()

    assert edge.pid is None
