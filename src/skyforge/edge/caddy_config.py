"""The edge router's Caddy JSON config: a pure function of the routes and their slot counts.

Upstream addresses are not in the config: each route has a fixed number of slots (its
capacity), each slot's `dial` a `{file.<path>}` placeholder that Caddy reads per request. A
rollout, a scale change and a route's first release only rewrite those files, never reload
Caddy. A route with no upstreams points its slots at a second server of the same config, on a
unix socket, that answers with the 503 page.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyforge.edge import caddy_tls

Json = dict[str, Any]

SERVER = "edge"
UNAVAILABLE_SERVER = "unavailable"
MAINTENANCE_SERVER = "maintenance"
SCALED_SERVER = "scaled"
# The slots a route starts with, doubled when it outgrows them (the only reload a scale change
# makes). Slots hold the addresses round and round, so 12 splits evenly between 1, 2, 3, 4 or 6
# instances (24 also 8 and 12); other counts give some instances one slot more (5 of 12 slots:
# 3,3,2,2,2, the busiest 25% above the mean). More slots cost nothing per request (measured:
# the same ~9.5k req/s with 4, 12, 16, 24 and 64, as only the chosen slot's file is read) but
# make the config bigger: a reload with 1,000 routes took ~140 ms at 4, ~240 at 12, ~380 at 24.
MIN_CAPACITY = 12
# GETs (and any request whose dial failed) are retried while an upstream is momentarily dead:
# a crashed instance being restarted, or a slot still pointing at a stopped one.
TRY_DURATION = "5s"
TRY_INTERVAL = "50ms"
# Upstreams are on loopback, where a connection is made at once unless the app's accept queue is
# full and the kernel dropped the SYN (a burst of new connections, above all to an app that
# closes each one, with Python's default backlog of 5): the kernel would send it again only
# after 1 s, then 3 s, and Caddy's own dial timeout is 3 s. Giving up after 50 ms and dialing
# again (after TRY_INTERVAL) costs such a request ~100 ms instead of seconds (measured in
# bench/deploy.py).
DIAL_TIMEOUT = "50ms"
DEFAULT_PORTS = frozenset({80, 443})
LOG_ROLL_MB = 16  # Caddy's log is rolled at this size (and gzipped) ...
LOG_ROLL_KEEP = 4  # ... keeping this many rolled files

# Placeholders are filled per request. The Host header cannot hold <, > or " (Go rejects such
# requests with 400), so echoing it in HTML text is safe. No literal braces: Caddy would read
# them as placeholders.
_PAGE = (
    "<!doctype html>\n"
    '<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
    "<body><h1>{title}</h1><p>{text}</p><hr><p>SkyForge edge router</p></body></html>\n"
)
PAGE_404 = _PAGE.format(
    title="404 Not Found",
    text="No app is routed at this hostname: <code>{http.request.host}</code>.",
)
PAGE_503 = _PAGE.format(
    title="503 Service Unavailable",
    text="<code>{http.request.host}</code> has no running release.",
)
PAGE_SCALED_TO_ZERO = _PAGE.format(
    title="503 Service Unavailable",
    text="<code>{http.request.host}</code> is scaled to 0 web processes.",
)
PAGE_MAINTENANCE = _PAGE.format(
    title="503 Service Unavailable",
    text="<code>{http.request.host}</code> is down for maintenance. Please try again later.",
)


@dataclass(frozen=True)
class ServerTimeouts:
    """How long a client of the edge may take, in seconds: to send a request's headers, to
    send the whole request (headers and body), and to idle on a kept-alive connection. A
    client trickling its request a byte at a time is cut off (slow-client protection)."""

    read_header: float = 10.0
    read_body: float = 60.0
    idle: float = 120.0

    def __post_init__(self) -> None:
        if min(self.read_header, self.read_body, self.idle) <= 0:
            raise ValueError("the edge's timeouts must be positive")

    def config(self) -> Json:
        """Caddy's server fields (Go's ReadHeaderTimeout, ReadTimeout and IdleTimeout)."""
        return {
            "read_header_timeout": _duration(self.read_header),
            "read_timeout": _duration(self.read_body),
            "idle_timeout": _duration(self.idle),
        }


def _duration(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def capacity(count: int, current: int = 0) -> int:
    """Slots for `count` upstreams: MIN_CAPACITY doubled until they fit, never below `current`."""
    slots = MIN_CAPACITY
    while slots < count:
        slots *= 2
    return max(slots, current)


def slot_dials(addresses: Sequence[str], slots: int, unavailable: str) -> list[str]:
    """What each slot dials: the addresses round and round, or all the 503 server if none."""
    if not addresses:
        return [unavailable] * slots
    return [addresses[index % len(addresses)] for index in range(slots)]


def unix_address(socket: Path) -> str:
    """A unix socket as Caddy's network address (listen and dial): "unix//abs/path"."""
    return f"unix/{socket}"


def unix_listen(socket: Path) -> str:
    """A unix socket Caddy listens on, connectable by this user alone (it sets the mode)."""
    return f"{unix_address(socket)}|0600"


def slot_file(edge_dir: Path, key: str, index: int) -> Path:
    """Where slot `index` of route `key` keeps its upstream address."""
    return edge_dir / key / f"slot-{index}.dial"


def bootstrap_config(admin_socket: Path, log_file: Path | None = None) -> Json:
    """Only the admin endpoint and the log: what Caddy starts with before the first full load.

    Caddy logs every admin request but /metrics, the reconciler's config check too (one a
    pass): with `log_file` it writes and rolls that file itself (else: to stderr).
    """
    writer: Json = {"output": "stderr"}
    if log_file is not None:
        writer = {
            "output": "file",
            "filename": str(log_file),
            "mode": "0600",
            "roll_size_mb": LOG_ROLL_MB,
            "roll_keep": LOG_ROLL_KEEP,
        }
    return {
        # persist false: Caddy must not autosave a config (nor resume one) from its home.
        "admin": {"listen": unix_listen(admin_socket), "config": {"persist": False}},
        "logging": {"logs": {"default": {"writer": writer, "encoder": {"format": "json"}}}},
    }


def build_config(
    *,
    admin_socket: Path,
    listen: str,
    unavailable_socket: Path,
    edge_dir: Path,
    routes: Mapping[str, Sequence[str]],
    slots: Mapping[str, int],
    tls: Collection[str] = (),
    timeouts: ServerTimeouts = ServerTimeouts(),
    redirect_https: Collection[str] = (),
    https: caddy_tls.Https | None = None,
    tokens_dir: Path | None = None,
    log_file: Path | None = None,
    maintenance_socket: Path | None = None,
    scaled_socket: Path | None = None,
) -> Json:
    """The full config: one route per key with hostnames, then a catch-all 404.

    With `https`, a second server serves the `tls` hostnames over HTTPS, and plain HTTP
    requests for `redirect_https` ones are redirected there; without it both are ignored.
    """
    secure = set(tls) if https else set()
    redirected = sorted(set(redirect_https) & secure)
    tokens = [caddy_tls.token_route(tokens_dir)] if tokens_dir else []
    # Tokens before the redirect: a hostname is verified over plain HTTP, before its TLS.
    first = list(tokens)
    if https and redirected:
        first.append(caddy_tls.redirect_route(redirected, https.port))
    servers = {
        SERVER: {"listen": [listen], **_routing(first, edge_dir, routes, slots, _port(listen))},
        # Reached only through the slots of routes without upstreams; reverse_proxy passes the
        # client's Host header on, so the page still names the host that was asked for.
        UNAVAILABLE_SERVER: {
            "listen": [unix_listen(unavailable_socket)],
            "routes": [{"handle": [_page(503, PAGE_503)]}],
        },
    }
    if maintenance_socket is not None:  # what the slots of a route in maintenance point at
        servers[MAINTENANCE_SERVER] = {
            "listen": [unix_listen(maintenance_socket)],
            "routes": [{"handle": [_page(503, PAGE_MAINTENANCE, retry_after=True)]}],
        }
    if scaled_socket is not None:  # ... and those of a route scaled to 0 web processes
        servers[SCALED_SERVER] = {
            "listen": [unix_listen(scaled_socket)],
            "routes": [{"handle": [_page(503, PAGE_SCALED_TO_ZERO)]}],
        }
    for server in servers.values():
        # Plain HTTP only (h2 and h3 need TLS). Automatic HTTPS would certify every routed
        # name, .localhost ones included, and redirect them all: TLS is explicit, below.
        server.update({"protocols": ["h1"], "automatic_https": {"disable": True}})
    # Per-host request metrics, read from the admin socket: part of the one full config, so
    # turning them on never costs a reload of its own.
    http: Json = {"metrics": {"per_host": True}, "servers": servers}
    config: Json = {**bootstrap_config(admin_socket, log_file), "apps": {"http": http}}
    if https:
        only_secure = {key: [n for n in names if n in secure] for key, names in routes.items()}
        servers[caddy_tls.TLS_SERVER] = {
            **caddy_tls.server(https.listen),
            **_routing(tokens, edge_dir, only_secure, slots, https.port),
            "automatic_https": {"disable": True},
        }
        config["apps"].update(caddy_tls.apps(https, secure))
        config["storage"] = caddy_tls.storage(https)
    for server in servers.values():
        server.update(timeouts.config())
    return config


def differences(live: object, desired: object, path: str = "") -> list[str]:
    """The paths ("apps.http.servers.edge.routes") where two JSON configs differ, if any."""
    if live == desired:
        return []
    if isinstance(live, dict) and isinstance(desired, dict):
        keys = sorted(live.keys() | desired.keys())
        return [d for k in keys for d in differences(live.get(k), desired.get(k), f"{path}.{k}")]
    return [path.lstrip(".") or "the root"]


def encode(config: Json) -> bytes:
    """The canonical bytes of a config: equal configs give equal bytes."""
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def _upstreams(edge_dir: Path, key: str, count: int) -> list[Json]:
    return [{"dial": f"{{file.{slot_file(edge_dir, key, i)}}}"} for i in range(count)]


def _routing(
    first: list[Json],
    edge_dir: Path,
    routes: Mapping[str, Sequence[str]],
    slots: Mapping[str, int],
    port: int,
) -> Json:
    """A server's routes (after `first`), its catch-all 404 and its error pages."""
    http_routes = [
        _route(hostnames, port, _upstreams(edge_dir, key, slots.get(key, MIN_CAPACITY)))
        for key, hostnames in sorted(routes.items())
        if hostnames
    ]
    return {
        "routes": [*first, *http_routes, {"handle": [_page(404, PAGE_404)]}],
        # Every upstream failed until TRY_DURATION ran out (502), or none was available (503).
        "errors": {
            "routes": [
                {
                    "match": [{"vars": {"{http.error.status_code}": ["502", "503"]}}],
                    "handle": [_page(503, PAGE_503)],
                }
            ]
        },
    }


def _route(hostnames: Sequence[str], port: int, upstreams: list[Json]) -> Json:
    # Caddy labels per-host metrics with the Host header as sent, which carries the port when
    # it is not the scheme's default, and counts only hosts named in a matcher (others go to
    # "_other", so random names cannot grow its memory). The matcher ignores the request's
    # port, so "name:port" never matches anything: it only lets that label be counted.
    with_port = [f"{name}:{port}" for name in hostnames] if port not in DEFAULT_PORTS else []
    return {
        "match": [{"host": [*hostnames, *with_port]}],
        "handle": [_reverse_proxy(upstreams)],
        "terminal": True,
    }


def _reverse_proxy(upstreams: list[Json]) -> Json:
    return {
        "handler": "reverse_proxy",
        "upstreams": upstreams,
        "transport": {"protocol": "http", "dial_timeout": DIAL_TIMEOUT},
        "load_balancing": {
            "selection_policy": {"policy": "round_robin"},
            "try_duration": TRY_DURATION,
            "try_interval": TRY_INTERVAL,
        },
    }


def _page(status: int, body: str, retry_after: bool = False) -> Json:
    headers = {"Content-Type": ["text/html; charset=utf-8"]}
    if retry_after:
        headers["Retry-After"] = ["60"]
    return {"handler": "static_response", "status_code": status, "headers": headers, "body": body}
