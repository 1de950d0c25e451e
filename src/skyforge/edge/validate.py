"""Checks on what reaches an edge router, before it goes into a config or a path."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

from skyforge.edge.base import Route
from skyforge.kernel.errors import Invalid

# A route key names a directory: it starts with a letter or digit, so it is never "." or "..".
_KEY = re.compile(r"^[a-z0-9][a-z0-9.-]{0,127}$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Ownership tokens go into a file path and a URL path: URL-safe base64 only.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_SUN_PATH_MAX = 107  # bytes in a unix socket path, without the trailing NUL
_ADDRESS = re.compile(
    r"^(?:(?P<v4>[0-9.]{7,15})|\[(?P<v6>[0-9a-fA-F:.]{2,45})\]):(?P<port>[1-9][0-9]{0,4})$"
)


def route_key(key: str) -> str:
    """Return key when it is a valid route key, else raise Invalid."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise Invalid(f"invalid route key {key!r}: lowercase letters, digits, '.', '-' (max 128)")
    return key


def hostname(name: str) -> str:
    """Return the lowercased hostname when it is a valid DNS name, else raise Invalid."""
    # Hosts match case-insensitively, so one canonical spelling goes into the config.
    lowered = name.lower() if isinstance(name, str) else ""
    labels = lowered.split(".")
    if not lowered or len(lowered) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Invalid(f"invalid hostname {name!r}")
    return lowered


def upstream_address(address: str) -> str:
    """Return the canonical "IP:PORT" of a loopback address, else raise Invalid."""
    match = _ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None or int(match["port"]) > 65535:
        raise Invalid(f"invalid upstream address {address!r}: expected 127.0.0.1:PORT")
    try:
        ip = ipaddress.ip_address(match["v4"] or match["v6"])
    except ValueError:
        raise Invalid(f"invalid upstream address {address!r}") from None
    if not ip.is_loopback:
        raise Invalid(f"upstream address {address!r} is not a loopback address")
    host = str(ip) if ip.version == 4 else f"[{ip}]"
    return f"{host}:{int(match['port'])}"


def slot_address(address: str, unavailable: str, *internal: str) -> str:
    """Return what a slot may dial: a loopback "IP:PORT", or exactly one of the edge's own
    servers (the 503 page, and the `internal` others: the maintenance page)."""
    return address if address in (unavailable, *internal) else upstream_address(address)


def socket_path(path: Path) -> Path:
    """Return path when it fits in a unix socket address, else raise Invalid."""
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise Invalid(f"{path} is too long for a unix socket path")
    return path


def routes(given: list[Route]) -> dict[str, tuple[str, ...]]:
    """Validate a full set of routes: hostnames by key, each hostname owned by one route."""
    result: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for route in given:
        key = route_key(route.key)
        if key in result:
            raise Invalid(f"route key {key!r} is given twice")
        names = sorted({hostname(name) for name in route.hostnames})
        for name in names:
            if name in owner:
                raise Invalid(f"hostname {name!r} is routed to both {owner[name]!r} and {key!r}")
            owner[name] = key
        result[key] = tuple(names)
        secure = {hostname(name) for name in route.tls}
        if not secure <= set(names):
            raise Invalid(f"route {key!r}: TLS hostnames must be among its hostnames")
        if not {hostname(name) for name in route.redirect_https} <= secure:
            raise Invalid(f"route {key!r}: only TLS hostnames can redirect to HTTPS")
    return result


def secure_hostnames(given: list[Route]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hostnames served over HTTPS, and those redirected there, of valid routes."""
    tls = sorted({hostname(name) for route in given for name in route.tls})
    redirect = sorted({hostname(name) for route in given for name in route.redirect_https})
    return tuple(tls), tuple(redirect)


def tokens(given: dict[str, str]) -> dict[str, str]:
    """Validate ownership tokens by hostname (lowercased)."""
    result: dict[str, str] = {}
    for name, token in given.items():
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise Invalid(f"invalid verification token for {name!r}")
        result[hostname(name)] = token
    return result
