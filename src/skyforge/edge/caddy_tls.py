"""The HTTPS side of the edge's Caddy config: certificates, the TLS server's extras, redirects.

Automatic HTTPS stays off (it would redirect and certify every routed name, `.localhost` ones
included): the names of routes asking for TLS are listed as subjects instead. Local names get
certificates from Caddy's internal CA, whose root is never installed into the system trust
store; public ones from ACME when an email is configured, else from the internal CA too.
Ownership tokens are files that Caddy's file server finds by Host and path, so registering
one is no config change (no reload, which would reset every app's keep-alive connections).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyforge.kernel.errors import Invalid

Json = dict[str, Any]

TLS_SERVER = "edge-tls"
# Names no public CA certifies (RFC 6761, RFC 8375, .internal): always from the internal CA.
LOCAL_SUFFIXES = ("localhost", "local", "internal", "test", "example", "invalid", "home.arpa")
CHALLENGE_PATH = r"^/\.well-known/skyforge/[A-Za-z0-9_-]{32,128}$"
# Nothing Caddy would read as a placeholder or that would end the JSON string early.
_EMAIL = re.compile(r"^[^@\s{}\\\"]+@[^@\s{}\\\"]+$")
_CA = re.compile(r"^https://[^\s{}\\\"]+$")


@dataclass(frozen=True)
class Https:
    """Where HTTPS is served and how its certificates are obtained."""

    listen: str  # "127.0.0.1:8443"
    port: int  # the HTTPS port clients see, for redirects
    http_port: int  # the plain HTTP port, for ACME's HTTP challenge
    storage: Path  # Caddy's data: its CA, keys and certificates
    acme_email: str | None = None
    acme_ca: str | None = None  # the ACME directory; Caddy's default (Let's Encrypt) if None


def settings(
    data_dir: Path,
    host: str,
    http_port: int,
    https_port: int | None,
    *,
    acme_email: str | None = None,
    acme_ca: str | None = None,
) -> Https | None:
    """Validated HTTPS settings of an edge on `host`, or None without an HTTPS port."""
    if https_port is None:
        return None
    if https_port == http_port or not 0 < https_port < 65536:
        raise Invalid(f"invalid HTTPS port {https_port}: 1-65535, not the edge port")
    if acme_email is not None and not _EMAIL.fullmatch(acme_email):
        raise Invalid(f"invalid ACME email {acme_email!r}")
    if acme_ca is not None and not _CA.fullmatch(acme_ca):
        raise Invalid(f"invalid ACME directory {acme_ca!r}: an https:// URL")
    listen = f"[{host}]:{https_port}" if ":" in host else f"{host}:{https_port}"
    return Https(listen, https_port, http_port, storage_dir(data_dir), acme_email, acme_ca)


def storage_dir(data_dir: Path) -> Path:
    """Caddy's data under SkyForge's data dir: where its XDG data dir puts it too."""
    return data_dir / "caddy" / "data" / "caddy"


def ca_root(storage: Path) -> Path:
    """The internal CA's root certificate (created at Caddy's first start with HTTPS)."""
    return storage / "pki" / "authorities" / "local" / "root.crt"


def is_local(hostname: str) -> bool:
    """Whether no public CA would certify the name."""
    return any(hostname == s or hostname.endswith("." + s) for s in LOCAL_SUFFIXES)


def internal_names(https: Https, names: Iterable[str]) -> list[str]:
    """The names the internal CA certifies: all of them, or only the local ones with ACME."""
    return sorted(name for name in set(names) if https.acme_email is None or is_local(name))


def apps(https: Https, names: Iterable[str]) -> Json:
    """The `pki` and `tls` apps: the internal CA, and a certificate for each name."""
    names = sorted(set(names))
    internal = internal_names(https, names)
    public = [n for n in names if n not in internal]
    policies = [
        {"subjects": subjects, "issuers": [issuer]}
        for subjects, issuer in ((internal, {"module": "internal"}), (public, _acme(https)))
        if subjects
    ]
    # install_trust false: Caddy runs as root here, and would add its root to the system's CAs.
    result: Json = {"pki": {"certificate_authorities": {"local": {"install_trust": False}}}}
    if names:
        result["tls"] = {
            "certificates": {"automate": names},
            "automation": {"policies": policies},
        }
    return result


def storage(https: Https) -> Json:
    """Caddy's storage, named in the config so it never depends on the environment."""
    return {"module": "file_system", "root": str(https.storage)}


def server(listen: str) -> Json:
    """The TLS server's own settings (routes come from the caller)."""
    # An empty connection policy turns TLS on, with the certificate chosen by SNI; a name
    # without one fails the handshake. No h3: it would also bind a UDP port.
    return {"listen": [listen], "tls_connection_policies": [{}], "protocols": ["h1", "h2"]}


def redirect_route(names: Iterable[str], https_port: int) -> Json:
    """Plain HTTP requests for `names` answer 308 to the same URL over HTTPS."""
    port = "" if https_port == 443 else f":{https_port}"
    return {
        "match": [{"host": sorted(names)}],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 308,
                "headers": {
                    "Location": [f"https://{{http.request.host}}{port}{{http.request.uri}}"]
                },
            }
        ],
        "terminal": True,
    }


def token_route(tokens_dir: Path) -> Json:
    """GET /.well-known/skyforge/<token> answers from tokens_dir/<host>/...; else goes on."""
    # The Host header cannot hold "/" (Go answers 400), so a host only picks one folder
    # below tokens_dir; ".." picks tokens_dir's parent, which holds no .well-known folder.
    return {
        "match": [{"method": ["GET", "HEAD"], "path_regexp": {"pattern": CHALLENGE_PATH}}],
        "handle": [
            {
                "handler": "file_server",
                "root": f"{tokens_dir}/{{http.request.host}}",
                "pass_thru": True,  # no such token: the route's app answers, as without this
            }
        ],
    }


def _acme(https: Https) -> Json:
    issuer: Json = {
        "module": "acme",
        "email": https.acme_email,
        # The ports Caddy itself answers challenges on, when 80 and 443 are forwarded to them.
        "challenges": {
            "http": {"alternate_port": https.http_port},
            "tls-alpn": {"alternate_port": https.port},
        },
    }
    if https.acme_ca:
        issuer["ca"] = https.acme_ca
    return issuer
