"""Ownership verification against real servers on 127.0.0.1: a DNS server and an HTTP server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from skyforge.adapters.dns import DnsTxtVerifier, FakeVerifier, HttpTokenVerifier
from skyforge.domains.verification import Outcome, new_token, txt_value
from skyforge.kernel.errors import Invalid

HOST = "shop.example.test"
TOKEN = new_token()

# -- a tiny authoritative DNS server -----------------------------------------------------------


class Zone(asyncio.DatagramProtocol):
    """Answers TXT queries from a dict (name -> values), NXDOMAIN otherwise; or stays silent."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.silent = False
        self.queries: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        if self.silent:
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif self.records[name]:  # present with no values: the name exists, without TXT
            response.answer.append(
                dns.rrset.from_text(question.name, 60, "IN", "TXT", *self.records[name])
            )
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def zone() -> AsyncIterator[tuple[Zone, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Zone({}), local_addr=("127.0.0.1", 0)
    )
    try:
        yield protocol, int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


def resolver(port: int, lifetime: float = 2.0) -> DnsTxtVerifier:
    return DnsTxtVerifier(["127.0.0.1"], port=port, timeout=lifetime / 2, lifetime=lifetime)


async def test_a_txt_record_with_the_token_verifies(zone: tuple[Zone, int]) -> None:
    server, port = zone
    server.records[f"_skyforge-challenge.{HOST}"] = ['"v=spf1 -all"', f'"{txt_value(TOKEN)}"']

    check = await resolver(port).verify(HOST, TOKEN)

    assert check.verified, check.detail
    assert server.queries == [f"_skyforge-challenge.{HOST}"]  # absolute: no search domains


async def test_a_token_split_over_two_txt_strings_verifies(zone: tuple[Zone, int]) -> None:
    server, port = zone
    server.records[f"_skyforge-challenge.{HOST}"] = [f'"skyforge-verification=" "{TOKEN}"']

    assert (await resolver(port).verify(HOST, TOKEN)).verified


async def test_a_wildcard_is_verified_at_its_base_name(zone: tuple[Zone, int]) -> None:
    server, port = zone
    server.records[f"_skyforge-challenge.{HOST}"] = [f'"{txt_value(TOKEN)}"']

    assert (await resolver(port).verify(f"*.{HOST}", TOKEN)).verified


@pytest.mark.parametrize(
    ("records", "outcome"),
    [
        ({}, Outcome.MISSING),  # NXDOMAIN
        ({f"_skyforge-challenge.{HOST}": []}, Outcome.MISSING),  # the name, but no TXT
        ({f"_skyforge-challenge.{HOST}": ['"v=spf1 -all"']}, Outcome.MISSING),
        ({f"_skyforge-challenge.{HOST}": [f'"{txt_value(new_token())}"']}, Outcome.MISMATCH),
        ({HOST: [f'"{txt_value(TOKEN)}"']}, Outcome.MISSING),  # at the wrong name
    ],
)
async def test_a_missing_or_wrong_txt_record_does_not_verify(
    zone: tuple[Zone, int], records: dict[str, list[str]], outcome: Outcome
) -> None:
    server, port = zone
    server.records.update(records)

    check = await resolver(port).verify(HOST, TOKEN)

    assert check.outcome is outcome, check.detail


async def test_a_silent_name_server_times_out_as_unreachable(zone: tuple[Zone, int]) -> None:
    server, port = zone
    server.records[f"_skyforge-challenge.{HOST}"] = [f'"{txt_value(TOKEN)}"']
    server.silent = True
    started = time.monotonic()

    check = await resolver(port, lifetime=0.4).verify(HOST, TOKEN)

    assert check.outcome is Outcome.UNREACHABLE
    assert "timed out" in check.detail
    assert time.monotonic() - started < 2
    assert server.queries  # the resolver did ask


# -- HTTP tokens -------------------------------------------------------------------------------


class _Site(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hosts: list[str] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers.get("Host", ""))
        if self.path == "/slow":
            time.sleep(1)
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[tuple[type[_Site], int]]:
    handler = type("Site", (_Site,), {"routes": {}, "hosts": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield handler, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


PATH = f"/.well-known/skyforge/{TOKEN}"


def http(port: int, **options: float) -> HttpTokenVerifier:
    return HttpTokenVerifier(port=port, connect_to="127.0.0.1", **options)  # type: ignore[arg-type]


async def test_the_token_served_over_http_verifies(site: tuple[type[_Site], int]) -> None:
    handler, port = site
    handler.routes[PATH] = (200, {}, f"{TOKEN}\n".encode())

    check = await http(port).verify(HOST, TOKEN)

    assert check.verified, check.detail
    assert handler.hosts == [f"{HOST}:{port}"]  # connected to 127.0.0.1, asked for the hostname


async def test_a_redirect_on_the_same_host_is_followed(site: tuple[type[_Site], int]) -> None:
    handler, port = site
    handler.routes[PATH] = (308, {"Location": "/elsewhere"}, b"")
    handler.routes["/elsewhere"] = (200, {}, TOKEN.encode())

    assert (await http(port).verify(HOST, TOKEN)).verified


@pytest.mark.parametrize(
    ("answer", "outcome", "detail"),
    [
        ((404, {}, b""), Outcome.MISSING, "404"),
        ((500, {}, TOKEN.encode()), Outcome.MISMATCH, "500"),
        ((200, {}, b"another token"), Outcome.MISMATCH, "different"),
        ((200, {}, TOKEN.encode() * 100), Outcome.MISMATCH, "more than a token"),
        ((302, {"Location": "http://evil.example/x"}, b""), Outcome.MISMATCH, "another host"),
        ((302, {"Location": f"https://{HOST}/x"}, b""), Outcome.MISMATCH, "another host"),
        ((302, {"Location": PATH}, b""), Outcome.MISMATCH, "redirects more than"),
        ((302, {"Location": "/slow"}, b""), Outcome.UNREACHABLE, "within"),
    ],
)
async def test_a_wrong_http_answer_does_not_verify(
    site: tuple[type[_Site], int],
    answer: tuple[int, dict[str, str], bytes],
    outcome: Outcome,
    detail: str,
) -> None:
    handler, port = site
    handler.routes[PATH] = answer

    check = await http(port, timeout=0.5).verify(HOST, TOKEN)

    assert check.outcome is outcome and detail in check.detail, check.detail


async def test_nothing_listening_is_unreachable() -> None:
    check = await http(1).verify(HOST, TOKEN)

    assert check.outcome is Outcome.UNREACHABLE


async def test_names_resolving_to_private_addresses_are_refused_unless_allowed() -> None:
    # localhost resolves (from /etc/hosts) to loopback: no request is sent at all.
    check = await HttpTokenVerifier(port=1).verify("localhost", TOKEN)

    assert check.outcome is Outcome.UNREACHABLE and "not a public address" in check.detail
    allowed = await HttpTokenVerifier(port=1, allow_private=True).verify("localhost", TOKEN)
    assert "not a public address" not in allowed.detail


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "fd00:ec2::254", "0.0.0.0"])
def test_link_local_and_metadata_addresses_are_never_connected_to(address: str) -> None:
    with pytest.raises(Invalid):
        HttpTokenVerifier(connect_to=address)


async def test_the_fake_verifier_answers_from_what_is_published() -> None:
    fake = FakeVerifier({HOST: TOKEN})
    fake.unreachable.add("down.example")

    assert (await fake.verify(HOST, TOKEN)).verified
    assert (await fake.verify(HOST, new_token())).outcome is Outcome.MISMATCH
    assert (await fake.verify("other.example", TOKEN)).outcome is Outcome.MISSING
    assert (await fake.verify("down.example", TOKEN)).outcome is Outcome.UNREACHABLE
