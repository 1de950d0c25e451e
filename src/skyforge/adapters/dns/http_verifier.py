"""HttpTokenVerifier: GET http://<hostname>/.well-known/skyforge/<token> answers the token.

The hostname is resolved here, each address checked, and the request sent to that very address
with the hostname in the Host header, so a second lookup (DNS rebinding) cannot steer it
elsewhere. Redirects are followed only on the same host and port, over plain HTTP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from skyforge.domains.verification import Check, Outcome, check_token, http_path
from skyforge.kernel.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services that are not link-local (AWS IPv6, Alibaba).
_METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
_REDIRECTS = {301, 302, 303, 307, 308}


def refused_address(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why the verifier must not connect to `ip`, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    if ip in _METADATA or ip.is_link_local:  # 169.254.169.254 and its kin are link-local
        return f"{ip} is a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if not allow_private and not ip.is_global:
        return f"{ip} is not a public address"
    return None


class HttpTokenVerifier:
    """Fetches the token over plain HTTP, bounded in time, redirects and body size."""

    def __init__(
        self,
        *,
        port: int = 80,
        timeout: float = 5.0,
        connect_to: str | None = None,
        allow_private: bool = False,
        max_body: int = 1024,
        max_redirects: int = 3,
    ) -> None:
        self.port, self.timeout = port, timeout
        self.allow_private = allow_private
        self.max_body, self.max_redirects = max_body, max_redirects
        # connect_to (local setups, tests): the operator's choice, so loopback and private
        # addresses are fine there; link-local and metadata addresses never are.
        self.connect_to = ipaddress.ip_address(connect_to) if connect_to else None
        if self.connect_to is not None:
            reason = refused_address(self.connect_to, allow_private=True)
            if reason:
                raise Invalid(f"connect_to: {reason}")

    async def verify(self, hostname: str, token: str) -> Check:
        """Fetch the token once; the whole check ends within `timeout` seconds."""
        check_token(token)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._verify(hostname, token)
        except TimeoutError:
            return Check(Outcome.UNREACHABLE, f"{hostname} did not answer within {self.timeout} s")

    async def _verify(self, hostname: str, token: str) -> Check:
        try:
            addresses = await self._addresses(hostname)
        except OSError as error:
            return Check(Outcome.UNREACHABLE, f"{hostname} does not resolve: {error}")
        allow_private = self.allow_private or self.connect_to is not None
        for ip in addresses:
            reason = refused_address(ip, allow_private=allow_private)
            if reason:  # one bad address is enough: the name points somewhere it must not
                return Check(Outcome.UNREACHABLE, f"{hostname} resolves to {reason}")
        async with httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as client:
            failure = Check(Outcome.UNREACHABLE, f"{hostname} has no address")
            for ip in addresses:
                try:
                    return await self._fetch(client, ip, hostname, token)
                except httpx.TransportError as error:
                    failure = Check(Outcome.UNREACHABLE, f"{hostname} ({ip}): {error!r}")
            return failure

    async def _addresses(self, hostname: str) -> list[IPAddress]:
        if self.connect_to is not None:
            return [self.connect_to]
        infos = await asyncio.get_running_loop().getaddrinfo(
            hostname, self.port, type=socket.SOCK_STREAM
        )
        found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        return list(dict.fromkeys(found))

    async def _fetch(
        self, client: httpx.AsyncClient, ip: IPAddress, hostname: str, token: str
    ) -> Check:
        origin = httpx.URL(scheme="http", host=hostname, port=self.port)
        url = origin.join(http_path(token))
        host_header = hostname if self.port == 80 else f"{hostname}:{self.port}"
        for _ in range(self.max_redirects + 1):
            # The URL names the checked address; the Host header names the hostname.
            target = url.copy_with(host=str(ip))
            headers = {"Host": host_header, "Accept-Encoding": "identity"}  # raw bytes = body
            async with client.stream("GET", target, headers=headers) as response:
                if response.status_code in _REDIRECTS:
                    url = url.join(response.headers.get("Location", ""))
                    if (url.scheme, url.host, url.port) != (origin.scheme, hostname, origin.port):
                        return Check(Outcome.MISMATCH, f"{hostname} redirects to another host")
                    continue
                if response.status_code == 404:
                    return Check(Outcome.MISSING, f"{hostname} answered 404 for {url.path}")
                if response.status_code != 200:
                    return Check(Outcome.MISMATCH, f"{hostname} answered {response.status_code}")
                body = await self._read(response)
                if body is None:
                    return Check(Outcome.MISMATCH, f"{hostname} answered more than a token")
                if body.strip() != token.encode():
                    return Check(Outcome.MISMATCH, f"{hostname} answered a different token")
                return Check(Outcome.VERIFIED, f"{hostname} answered the token")
        return Check(Outcome.MISMATCH, f"{hostname} redirects more than {self.max_redirects} times")

    async def _read(self, response: httpx.Response) -> bytes | None:
        """The body, or None past max_body bytes (read no further than that)."""
        body = b""
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self.max_body:
                return None
        return body
