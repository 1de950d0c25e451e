"""The SSRF guard: which addresses and URLs outgoing requests may reach, before any I/O."""

from __future__ import annotations

import ipaddress

import pytest

from skyforge.adapters.netguard import (
    IPAddress,
    NetworkPolicy,
    TargetRefused,
    check_target,
    parse_target,
    refusal,
    resolve_allowed,
)
from skyforge.kernel.errors import Invalid

STRICT = NetworkPolicy()

REFUSED = {
    "127.0.0.1": "loopback",
    "127.1.2.3": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "169.254.169.254": "link-local",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "fd00:ec2::254": "metadata",
    "100.100.100.200": "metadata",
    "100.64.0.1": "carrier-grade NAT",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "192.0.2.10": "reserved",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "64:ff9b::7f00:1": "loopback",
    "2002:7f00:1::": "loopback",
    "::127.0.0.1": "loopback",
}


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_non_public_addresses_are_refused_with_their_kind(address: str) -> None:
    reason = refusal(ipaddress.ip_address(address), STRICT)
    assert reason is not None and REFUSED[address] in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), STRICT) is None


def test_the_operator_may_allow_networks_or_everything() -> None:
    policy = NetworkPolicy.of(networks=["127.0.0.0/8", " 10.0.0.0/8 "])
    assert refusal(ipaddress.ip_address("127.0.0.1"), policy) is None
    assert refusal(ipaddress.ip_address("::ffff:10.1.1.1"), policy) is None
    assert refusal(ipaddress.ip_address("192.168.1.1"), policy) is not None
    assert refusal(ipaddress.ip_address("169.254.169.254"), policy) is not None
    private = NetworkPolicy.of(allow_private=True)
    assert refusal(ipaddress.ip_address("10.1.1.1"), private) is None
    assert refusal(ipaddress.ip_address("169.254.169.254"), private) is not None  # metadata


def test_a_malformed_allowed_network_is_the_operators_error() -> None:
    with pytest.raises(ValueError):
        NetworkPolicy.of(networks=["10.0.0.0/33"])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://example.com/", "http:// or https://"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com/\r\nX: y", "control"),
        ("https:///path", "no host"),
        ("", "empty"),
        ("https://example.com/" + "a" * 2100, "longer than"),
        ("https://example.com/#frag", "fragment"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://METADATA.google.internal./", "metadata"),
    ],
)
def test_urls_are_checked_by_their_text(url: str, why: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_target(url)
    assert why in refused.value.detail


def fixed(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


async def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    with pytest.raises(TargetRefused) as refused:
        await resolve_allowed("https://hooks.example.com/x", STRICT, fixed("8.8.8.8", "10.0.0.1"))
    assert "resolves to a private address" in refused.value.detail
    assert "10.0.0.1" not in refused.value.detail  # the reason, not the internal address
    found = await resolve_allowed("https://hooks.example.com/x", STRICT, fixed("8.8.8.8"))
    assert found == [ipaddress.ip_address("8.8.8.8")]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",  # 127.0.0.1 as one number: the resolver decides, then the guard
        "http://0x7f.1/",
        "http://localhost:9/",
    ],
)
async def test_local_targets_are_refused_at_creation_by_the_real_resolver(url: str) -> None:
    with pytest.raises(TargetRefused):
        await check_target(url, STRICT)


async def test_a_name_that_does_not_resolve_yet_is_accepted_at_creation() -> None:
    async def nowhere(host: str, port: int) -> list[IPAddress]:
        raise OSError("no such host")

    parsed = await check_target("https://hooks.example.invalid/in", STRICT, nowhere)
    assert parsed.host == "hooks.example.invalid"
