"""Sending a batch of records to a drain's target, every connection to a checked address."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Protocol

import httpx

from skyforge.adapters.logdrain.formats import (
    Record,
    datagram,
    loki_push,
    ndjson,
    octet_counted,
    syslog_message,
)
from skyforge.adapters.netguard import (
    GuardedClient,
    NetworkPolicy,
    TargetRefused,
    check_target,
    resolve_allowed,
)
from skyforge.logdrains.model import Kind, Target

USER_AGENT = "SkyForge-LogDrain/1"


class DrainFailed(Exception):
    """The batch was not accepted; it is sent again later (from the same cursor)."""


class Sender(Protocol):
    async def send(self, records: list[Record]) -> None: ...

    async def aclose(self) -> None: ...


def _as_url(target: Target) -> httpx.URL:
    return httpx.URL(scheme="http", host=target.host, port=target.port, path="/")


async def check(target: Target, policy: NetworkPolicy) -> None:
    """Refuse (422) a target on loopback, private, link-local or metadata addresses."""
    if target.http_url is not None:
        await check_target(target.http_url, policy)
        return
    with contextlib.suppress(OSError):  # a name that does not resolve yet: checked per send
        await resolve_allowed(_as_url(target), policy)


class SyslogSender:
    """RFC 5424 over TCP or TLS (octet counting, RFC 6587/5425) or UDP (one per datagram)."""

    def __init__(self, target: Target, policy: NetworkPolicy, timeout: float = 10.0) -> None:
        self.target, self.policy, self.timeout = target, policy, timeout

    async def send(self, records: list[Record]) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                addresses = await resolve_allowed(_as_url(self.target), self.policy)
                address = str(addresses[0])
                messages = [syslog_message(r) for r in records]
                if self.target.kind is Kind.SYSLOG_UDP:
                    await self._udp(address, messages)
                else:
                    await self._stream(address, messages)
        except TargetRefused as exc:
            raise DrainFailed(exc.detail) from exc
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise DrainFailed(f"{self.target.kind.value} {self.target.host}: {exc!r}") from exc

    async def _stream(self, address: str, messages: list[bytes]) -> None:
        tls = ssl.create_default_context() if self.target.kind is Kind.SYSLOG_TLS else None
        _, writer = await asyncio.open_connection(
            address,
            self.target.port,
            ssl=tls,
            server_hostname=self.target.host if tls else None,
        )
        try:
            writer.write(b"".join(octet_counted(m) for m in messages))
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _udp(self, address: str, messages: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(address, self.target.port)
        )
        try:
            for message in messages:
                transport.sendto(datagram(message))
        finally:
            transport.close()

    async def aclose(self) -> None:
        return None


class HttpSender:
    """A batch as one POST: NDJSON, or Loki's push format; a 2xx answer accepts it."""

    def __init__(self, target: Target, policy: NetworkPolicy, timeout: float = 10.0) -> None:
        assert target.http_url is not None
        self.target, self.url = target, target.http_url
        self.client = GuardedClient(policy, timeout=timeout, max_redirects=0)

    async def send(self, records: list[Record]) -> None:
        loki = self.target.kind in (Kind.LOKI_HTTP, Kind.LOKI_HTTPS)
        body = loki_push(records) if loki else ndjson(records)
        kind = "application/json" if loki else "application/x-ndjson"
        headers = {"Content-Type": kind, "User-Agent": USER_AGENT}
        try:
            response = await self.client.request("POST", self.url, headers=headers, content=body)
        except TargetRefused as exc:
            raise DrainFailed(exc.detail) from exc
        except (OSError, TimeoutError, httpx.HTTPError) as exc:
            raise DrainFailed(f"POST to {self.target.host}: {exc!r}") from exc
        if not response.is_success:
            raise DrainFailed(f"POST to {self.target.host}: HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()


def sender_for(target: Target, policy: NetworkPolicy) -> Sender:
    if target.is_syslog:
        return SyslogSender(target, policy)
    return HttpSender(target, policy)
