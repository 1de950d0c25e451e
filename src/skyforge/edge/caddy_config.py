"""The edge router's Caddy JSON config: a pure function of the routes and their slot counts.

Upstream addresses are not in the config: each slot's `dial` is a `{file.<path>}` placeholder
that Caddy reads per request, so a rollout rewrites files and never reloads Caddy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Json = dict[str, Any]

SERVER = "edge"
# GETs (and any request whose dial failed) are retried while an upstream is momentarily dead:
# a crashed instance being restarted, or a slot still pointing at a stopped one.
TRY_DURATION = "5s"
TRY_INTERVAL = "50ms"

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


def slot_file(edge_dir: Path, key: str, index: int) -> Path:
    """Where slot `index` of route `key` keeps its upstream address."""
    return edge_dir / key / f"slot-{index}.dial"


def bootstrap_config(admin_socket: Path) -> Json:
    """Only the admin endpoint: what Caddy starts with before the first full load."""
    return {
        # persist false: Caddy must not autosave a config into the home directory.
        "admin": {"listen": f"unix/{admin_socket}", "config": {"persist": False}},
        "logging": {
            "logs": {"default": {"writer": {"output": "stderr"}, "encoder": {"format": "json"}}}
        },
    }


def build_config(
    *,
    admin_socket: Path,
    listen: str,
    edge_dir: Path,
    routes: Mapping[str, Sequence[str]],
    slots: Mapping[str, int],
) -> Json:
    """The full config: one route per key with hostnames, then a catch-all 404."""
    http_routes = [
        _route(hostnames, _upstreams(edge_dir, key, slots.get(key, 0)))
        for key, hostnames in sorted(routes.items())
        if hostnames
    ]
    http_routes.append({"handle": [_page(404, PAGE_404)]})
    server = {
        "listen": [listen],
        # Plain HTTP only (h2 and h3 need TLS); hosts end in .localhost, and automatic HTTPS
        # would otherwise serve them from Caddy's internal CA and redirect HTTP to HTTPS.
        "protocols": ["h1"],
        "automatic_https": {"disable": True},
        "routes": http_routes,
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
    return {**bootstrap_config(admin_socket), "apps": {"http": {"servers": {SERVER: server}}}}


def encode(config: Json) -> bytes:
    """The canonical bytes of a config: equal configs give equal bytes."""
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _upstreams(edge_dir: Path, key: str, count: int) -> list[Json]:
    return [{"dial": f"{{file.{slot_file(edge_dir, key, i)}}}"} for i in range(count)]


def _route(hostnames: Sequence[str], upstreams: list[Json]) -> Json:
    handler = _page(503, PAGE_503) if not upstreams else _reverse_proxy(upstreams)
    return {"match": [{"host": list(hostnames)}], "handle": [handler], "terminal": True}


def _reverse_proxy(upstreams: list[Json]) -> Json:
    return {
        "handler": "reverse_proxy",
        "upstreams": upstreams,
        "load_balancing": {
            "selection_policy": {"policy": "round_robin"},
            "try_duration": TRY_DURATION,
            "try_interval": TRY_INTERVAL,
        },
    }


def _page(status: int, body: str) -> Json:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {"Content-Type": ["text/html; charset=utf-8"]},
        "body": body,
    }
