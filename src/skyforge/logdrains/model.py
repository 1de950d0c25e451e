"""A log drain and the forms of its URL (plain Python: the adapters speak the protocols)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from skyforge.kernel.errors import Invalid

MAX_URL = 2048
MAX_DRAINS = 10  # per service: each one is a reader of the files and a connection


class Kind(StrEnum):
    SYSLOG_TCP = "syslog+tcp"
    SYSLOG_UDP = "syslog+udp"
    SYSLOG_TLS = "syslog+tls"
    HTTPS = "https"
    HTTP = "http"
    LOKI_HTTP = "loki+http"
    LOKI_HTTPS = "loki+https"


@dataclass(frozen=True)
class Target:
    """Where a drain's URL points: what to speak, to which host and port (and HTTP URL)."""

    kind: Kind
    host: str
    port: int
    http_url: str | None  # the URL to POST to (HTTP and Loki drains)

    @property
    def is_syslog(self) -> bool:
        return self.kind.value.startswith("syslog")


def parse_url(url: str) -> Target:
    """Validate a drain URL's form; where it may point is checked separately (netguard)."""
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise Invalid(f"url: give a drain URL of at most {MAX_URL} characters, no spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("url: not a valid URL") from None
    try:
        kind = Kind(parts.scheme.lower())
    except ValueError:
        allowed = ", ".join(k.value + "://" for k in Kind)
        raise Invalid(f"url: the scheme must be one of {allowed}") from None
    if not parts.hostname:
        raise Invalid("url: it has no host")
    if parts.username or parts.password:
        raise Invalid("url: no user name or password in the URL (use a token in its path)")
    if parts.fragment:
        raise Invalid("url: no fragment (#...)")
    if kind.value.startswith("syslog"):
        if port is None:
            raise Invalid("url: a syslog drain needs a port, e.g. syslog+tls://logs.example:6514")
        if parts.path not in ("", "/") or parts.query:
            raise Invalid("url: a syslog drain has no path or query")
        return Target(kind, parts.hostname, port, None)
    scheme = "https" if kind in (Kind.HTTPS, Kind.LOKI_HTTPS) else "http"
    http_url = scheme + url[len(parts.scheme) :]
    if kind in (Kind.LOKI_HTTP, Kind.LOKI_HTTPS) and not parts.path.endswith("/push"):
        raise Invalid("url: a Loki drain posts to its push API, e.g. .../loki/api/v1/push")
    return Target(kind, parts.hostname, port or (443 if scheme == "https" else 80), http_url)


@dataclass
class LogDrain:
    id: str
    service_id: str
    project: str
    service: str
    sealed_url: bytes  # the URL may carry a token: sealed under the secrets' master keys
    created_at: datetime
    cursor: str | None = None  # where forwarding resumes (the runtime's follow cursor)
    delivered: int = 0  # lines forwarded so far
    failures: int = 0  # consecutive failed attempts (backoff grows with them)
    last_error: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def binding(self) -> bytes:
        return url_binding(self.id)


def url_binding(drain_id: str) -> bytes:
    """Associated data of a sealed URL: it cannot be moved to another drain."""
    return f"log-drain:{drain_id}".encode()


def backoff_seconds(failures: int) -> float:
    """1, 2, 4 ... seconds after consecutive failures, at most 5 minutes."""
    return float(min(300, 2 ** max(0, failures - 1)))
