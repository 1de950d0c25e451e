"""The SSRF guard for requests SkyForge sends to URLs its users give (webhooks, log drains).

A user's URL must never reach this host, the private network or a cloud metadata service.
Checking the URL's text is not enough (`http://2130706433/`, a name resolving to 10.0.0.1, a
name whose answer changes between the check and the connection, a redirect to 127.0.0.1), so:

- every address a name resolves to is checked, and one refused address refuses the name;
- the connection goes to a checked address (the URL names the address; the Host header and
  TLS SNI/certificate check keep the hostname), so no second lookup can be steered elsewhere;
- redirects are followed by hand, each hop checked the same way.

The operator may allow private targets (`allow_private`) or some networks (`allowed`), e.g. a
company's webhook receiver on 10.0.0.0/8, or loopback in tests. Allowing private targets never
opens link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254...,
also in IPv6 forms): only a network listed in `allowed` does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

from skyforge.kernel.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

MAX_URL = 2048
# Names of instance metadata services that do not need an address to be recognised.
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)
# Metadata services outside link-local space (AWS over IPv6, Alibaba Cloud).
_METADATA_IPS = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_KEEP_BODY = {307, 308}  # the only redirects that keep the method and the body


class TargetRefused(Invalid):
    """The URL's target is one SkyForge must not send requests to; the detail says why."""


@dataclass(frozen=True)
class NetworkPolicy:
    """Which addresses outgoing requests may reach: public ones, plus what the operator allows."""

    allow_private: bool = False  # everything but link-local and metadata (local development)
    allowed: tuple[IPNetwork, ...] = ()  # these networks, whatever they are

    @classmethod
    def of(cls, allow_private: bool = False, networks: Iterable[str] = ()) -> NetworkPolicy:
        """From settings; a malformed network is a ValueError (the operator's mistake)."""
        return cls(allow_private, tuple(ipaddress.ip_network(n.strip()) for n in networks))

    def permits(self, ip: IPAddress) -> bool:
        if any(ip in n for n in self.allowed if n.version == ip.version):
            return True
        return self.allow_private and not _metadata_or_link_local(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64, compatible, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in n for n in _NAT64) or (ip in _COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _metadata_or_link_local(ip: IPAddress) -> bool:
    """Where cloud metadata services answer: never opened by allow_private alone."""
    if ip in _METADATA_IPS or ip.is_link_local:
        return True
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return inner is not None and (inner in _METADATA_IPS or inner.is_link_local)


def _kind(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is, or None for a public unicast address."""
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if any(ip in n for n in _PRIVATE if n.version == ip.version):
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def refusal(ip: IPAddress, policy: NetworkPolicy) -> str | None:
    """Why a request must not go to `ip` under `policy`, or None when it may."""
    if policy.permits(ip):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            if policy.permits(inner):
                return None
            kind = _kind(inner)
            return None if kind is None else kind + " (in an IPv6 form)"
    return _kind(ip)


def parse_target(url: str) -> httpx.URL:
    """A URL SkyForge may send to, by its text alone: http(s), a host, no user info."""
    if not isinstance(url, str) or not url.strip():
        raise Invalid("the URL is empty")
    if len(url) > MAX_URL:
        raise Invalid(f"the URL is longer than {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise Invalid("the URL contains spaces or control characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise Invalid("the URL is not valid") from None
    if parsed.scheme not in ("http", "https"):
        raise Invalid("the URL must start with http:// or https://")
    if not parsed.host:
        raise Invalid("the URL has no host")
    if parsed.userinfo:
        raise Invalid("the URL must not contain a user name or password")
    if parsed.fragment:
        raise Invalid("the URL must not contain a fragment (#...)")
    if _host(parsed) in METADATA_HOSTS:
        raise TargetRefused("the URL names a cloud metadata service")
    return parsed


def _host(url: httpx.URL) -> str:
    """The host in ASCII (IDNA A-labels), lower case, without the root's dot."""
    return url.raw_host.decode("ascii").lower().rstrip(".")


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an address literal resolves to itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(found))


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def resolve_allowed(
    url: str | httpx.URL, policy: NetworkPolicy, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """The addresses to connect to for `url`; TargetRefused when any of them is refused.

    OSError when the name does not resolve (the caller decides whether that is fatal)."""
    parsed = parse_target(url) if isinstance(url, str) else url
    return await host_allowed(_host(parsed), _port(parsed), policy, resolver)


async def host_allowed(
    host: str, port: int, policy: NetworkPolicy, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """The addresses to connect to for `host` (a name or an address, without brackets) on
    `port`; TargetRefused when any of them is refused, OSError when the name does not resolve.

    For other protocols than HTTP too (git over ssh or git://)."""
    host = host.lower().rstrip(".")
    if host in METADATA_HOSTS:
        raise TargetRefused("the URL names a cloud metadata service")
    addresses = await resolver(host, port)
    if not addresses:
        raise OSError(f"{host} has no address")
    for ip in addresses:
        reason = refusal(ip, policy)
        if reason is not None:  # one is enough: the name points somewhere it must not
            literal = is_literal(host)
            raise TargetRefused(f"the URL's host {'is' if literal else 'resolves to'} {reason}")
    return addresses


async def check_target(
    url: str, policy: NetworkPolicy, resolver: Resolver = system_resolver
) -> httpx.URL:
    """Validate a URL when it is saved: its text, and its addresses if the name resolves now
    (a name that does not resolve yet is accepted; every request checks again)."""
    parsed = parse_target(url)
    try:
        await resolve_allowed(parsed, policy, resolver)
    except OSError:
        if is_literal(parsed.host):
            raise
    return parsed


def is_literal(host: str) -> bool:
    """Is `host` an IP address (rather than a name)?"""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class GuardedClient:
    """An HTTP client whose every connection and redirect hop goes to a checked address."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        timeout: float = 10.0,
        max_redirects: int = 3,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,  # a context: a private CA (tests, on-premises)
    ) -> None:
        self.policy, self.timeout = policy, timeout
        self.max_redirects, self.resolver = max_redirects, resolver
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=verify
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self, method: str, url: str, *, headers: dict[str, str], content: bytes = b""
    ) -> httpx.Response:
        """Send; the response's body is read (at most `max_body` bytes kept) and closed.

        Raises TargetRefused (a hop is refused), OSError (a name does not resolve),
        httpx.HTTPError (transport) or TimeoutError (the whole exchange took too long).
        Only 307/308 are followed: the others would turn the POST into a GET without a body."""
        target = parse_target(url)
        async with asyncio.timeout(self.timeout):
            for _ in range(self.max_redirects + 1):
                response = await self._send(method, target, headers, content)
                location = response.headers.get("location")
                if response.status_code not in _KEEP_BODY or not location:
                    return response
                target = parse_target(str(target.join(location)))
            return response

    async def _send(
        self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes
    ) -> httpx.Response:
        addresses = await resolve_allowed(url, self.policy, self.resolver)
        default = 443 if url.scheme == "https" else 80
        host = _host(url)
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if _port(url) == default else f"{shown}:{_port(url)}"
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        error: Exception = OSError(f"{host} has no address")
        for ip in addresses:
            request = self._client.build_request(
                method,
                url.copy_with(host=str(ip)),
                headers={**headers, "Host": host_header},
                content=content,
                extensions=extensions,
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:  # try the next checked address
                error = exc
                continue
            try:
                await _drain(response)
            finally:
                await response.aclose()
            return response
        raise error


async def _drain(response: httpx.Response, limit: int = 65536) -> None:
    """Read a little of the body (so the connection can be reused), keep none of it."""
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            break
