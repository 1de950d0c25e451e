"""Log drains deliver an app's output to real receivers: syslog over TCP (RFC 5424, octet
counting), NDJSON over HTTP and Loki's push API; loopback targets need the operator's consent."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import TOKEN
from tests.support import eventually, make_git_repo, ticking_app

from skyforge.adapters.logdrain.formats import Record
from skyforge.adapters.logdrain.senders import DrainFailed, sender_for
from skyforge.adapters.netguard import NetworkPolicy
from skyforge.api.app import create_app
from skyforge.bootstrap import Platform
from skyforge.bootstrap_logs import SqlDrainStore
from skyforge.config import Settings
from skyforge.logdrains.model import parse_url

SVC = "/api/v1/projects/shop/services/web"
RFC5424 = re.compile(rb"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$", re.S)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        runtime="local",
        edge="null",
        admin_token=TOKEN,
        reconcile_interval=0.5,
        drain_seconds=0.1,
        stop_grace=2,
        log_drain_allow_private=True,  # the receivers run on loopback
    )


@pytest.fixture
async def shop(api: httpx.AsyncClient, tmp_path: Path) -> httpx.AsyncClient:
    """shop/web deployed on the local runtime, printing `tick N` 20 times a second."""
    repo = make_git_repo(tmp_path / "repo", ticking_app(0.05))
    assert (await api.post("/api/v1/projects", json={"name": "shop"})).status_code == 201
    service = {"name": "web", "source": {"git": str(repo), "branch": "main"}}
    assert (await api.post("/api/v1/projects/shop/services", json=service)).status_code == 201
    deploy = (await api.post(f"{SVC}/deploys")).json()
    deadline = time.monotonic() + 60
    while deploy["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
        deploy = (await api.get(f"{SVC}/deploys/{deploy['id']}")).json()
    assert deploy["status"] == "succeeded", deploy
    return api


@dataclass
class Receiver:
    port: int
    messages: list[bytes] = field(default_factory=list)  # syslog messages, or request bodies
    requests: list[dict[str, Any]] = field(default_factory=list)


async def serve(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> int:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    SERVERS.append(server)
    return port


SERVERS: list[asyncio.Server] = []


@pytest.fixture(autouse=True)
async def _close_servers() -> AsyncIterator[None]:
    yield
    while SERVERS:
        server = SERVERS.pop()
        server.close()


async def syslog_receiver() -> Receiver:
    """A TCP syslog server reading RFC 6587 octet-counted frames."""
    receiver = Receiver(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = await reader.readuntil(b" ")
                receiver.messages.append(await reader.readexactly(int(length[:-1])))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    receiver.port = await serve(handle)
    return receiver


async def http_receiver() -> Receiver:
    """An HTTP server that keeps each request's headers and body, and answers 204."""
    receiver = Receiver(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                request_line, *lines = head.split("\r\n")
                headers = {
                    k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                receiver.requests.append({"line": request_line, "headers": headers})
                receiver.messages.append(body)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    receiver.port = await serve(handle)
    return receiver


async def add_drain(api: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await api.post(f"{SVC}/log-drains", json={"url": url})
    assert response.status_code == 201, response.text
    drain: dict[str, Any] = response.json()
    return drain


def ticks(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("tick ")]


async def test_a_syslog_drain_gets_rfc5424_messages_over_tcp(
    shop: httpx.AsyncClient, platform: Platform
) -> None:
    receiver = await syslog_receiver()
    drain = await add_drain(shop, f"syslog+tcp://127.0.0.1:{receiver.port}")
    await eventually(lambda: len(receiver.messages) >= 10)
    parsed = [RFC5424.match(m) for m in receiver.messages]
    assert all(parsed), receiver.messages[:3]
    pri, stamp, host, app, procid, msgid, sd, _ = parsed[0].groups()  # type: ignore[union-attr]
    assert (pri, host, app, procid, msgid, sd) == (b"14", b"web.shop", b"web.1", b"v1", b"-", b"-")
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    numbers = ticks([m.group(8).decode() for m in parsed if m])  # type: ignore[union-attr]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # in order, no gap

    # Stopped and started again (as after a restart), it goes on from its saved cursor.
    await platform.logs.forwarder.stop()
    await asyncio.sleep(0.5)  # the app keeps writing meanwhile
    before = len(receiver.messages)
    platform.logs.forwarder.start()
    await eventually(lambda: len(receiver.messages) >= before + 20)
    after = ticks([RFC5424.match(m).group(8).decode() for m in receiver.messages])  # type: ignore[union-attr]
    assert sorted(set(after)) == list(range(after[0], max(after) + 1))  # at least once: no gap

    listed = (await shop.get(f"{SVC}/log-drains")).json()["items"]
    assert [d["id"] for d in listed] == [drain["id"]]
    assert listed[0]["delivered"] > 0 and listed[0]["failures"] == 0
    # Only one replica forwards a drain: another one cannot take the lease while it is held.
    assert not await SqlDrainStore(platform.uow).claim(drain["id"], "another-replica", 30)

    assert (await shop.delete(f"{SVC}/log-drains/{drain['id']}")).status_code == 204
    await asyncio.sleep(1.5)  # a turn that was under way may still finish
    count = len(receiver.messages)
    await asyncio.sleep(1.5)
    assert len(receiver.messages) == count
    assert (await shop.get(f"{SVC}/log-drains")).json()["items"] == []


async def test_an_https_style_drain_gets_ndjson_batches(shop: httpx.AsyncClient) -> None:
    receiver = await http_receiver()
    await add_drain(shop, f"http://127.0.0.1:{receiver.port}/ingest?token=abc")
    await eventually(lambda: sum(m.count(b"\n") for m in receiver.messages) >= 10)
    request = receiver.requests[0]
    assert request["line"] == "POST /ingest?token=abc HTTP/1.1"
    assert request["headers"]["content-type"] == "application/x-ndjson"
    docs = [json.loads(line) for body in receiver.messages for line in body.splitlines()]
    assert set(docs[0]) == {"time", "project", "service", "release", "process", "line"}
    assert (docs[0]["project"], docs[0]["service"], docs[0]["release"]) == ("shop", "web", "v1")
    numbers = ticks([d["line"] for d in docs])
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


async def test_a_loki_drain_pushes_streams_with_labels(shop: httpx.AsyncClient) -> None:
    receiver = await http_receiver()
    await add_drain(shop, f"loki+http://127.0.0.1:{receiver.port}/loki/api/v1/push")
    await eventually(lambda: len(receiver.messages) >= 2)
    assert receiver.requests[0]["line"] == "POST /loki/api/v1/push HTTP/1.1"
    assert receiver.requests[0]["headers"]["content-type"] == "application/json"
    body = json.loads(receiver.messages[0])
    [stream] = body["streams"]
    assert stream["stream"] == {
        "project": "shop",
        "service": "web",
        "release": "v1",
        "process": "web.1",
    }
    stamp, line = stream["values"][0]
    assert isinstance(stamp, str) and stamp.isdigit()
    assert abs(int(stamp) / 1e9 - time.time()) < 60
    assert line.startswith("tick ")


async def test_drain_urls_are_validated(shop: httpx.AsyncClient) -> None:
    for url, detail in [
        ("ftp://logs.example.com/", "scheme"),
        ("syslog+tcp://logs.example.com", "port"),
        ("loki+https://logs.example.com/other", "push"),
        ("https://user:pw@logs.example.com/", "password"),
    ]:
        response = await shop.post(f"{SVC}/log-drains", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert detail in response.json()["detail"], (url, response.json())
    missing = await shop.delete(f"{SVC}/log-drains/01HXXXXXXXXXXXXXXXXXXXXXXX")
    assert missing.status_code == 404


async def test_a_drain_to_loopback_is_refused_without_the_operators_allowance(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path / "strict", runtime="null", edge="null", admin_token=TOKEN
    )
    platform = Platform(settings)
    await platform.start()
    app: FastAPI = create_app(platform)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://skyforge.test",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as api:
            await api.post("/api/v1/projects", json={"name": "shop"})
            service = {"name": "web", "source": {"git": "/srv/nowhere"}}
            assert (await api.post("/api/v1/projects/shop/services", json=service)).is_success
            for url in (
                "syslog+tcp://127.0.0.1:514",
                "syslog+udp://[::1]:514",
                "https://10.1.2.3/ingest",
                "loki+http://192.168.1.5:3100/loki/api/v1/push",
                "https://169.254.169.254/latest",  # cloud metadata
            ):
                refused = await api.post(f"{SVC}/log-drains", json={"url": url})
                assert refused.status_code == 422, (url, refused.text)
                assert "address" in refused.json()["detail"]
            assert (await api.get(f"{SVC}/log-drains")).json()["items"] == []
    finally:
        await platform.stop()


async def test_a_udp_syslog_drain_sends_one_message_per_datagram() -> None:
    received: list[bytes] = []

    class Collect(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            received.append(data)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Collect, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        target = parse_url(f"syslog+udp://127.0.0.1:{port}")
        sender = sender_for(target, NetworkPolicy(allow_private=True))
        long_line = "x" * 5000
        await sender.send(
            [
                Record(1_790_000_000.25, "shop", "web", "v2", "worker.1", "hello"),
                Record(1_790_000_001.0, "shop", "web", "v2", "worker.1", long_line),
            ]
        )
        await eventually(lambda: len(received) == 2)
    finally:
        transport.close()
    assert received[0] == b"<14>1 2026-09-21T14:13:20.250Z web.shop worker.1 v2 - - hello"
    assert len(received[1]) == 2048 and received[1].endswith(b"xxx")  # RFC 5426's safe size
    with pytest.raises(DrainFailed, match="loopback"):
        await sender_for(target, NetworkPolicy()).send([])
