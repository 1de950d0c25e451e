"""Parsing server URLs, building tenant URLs, and keeping passwords out of messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from skyforge.kernel.errors import Invalid


@dataclass(frozen=True)
class ServerUrl:
    """The parts of an admin URL (postgresql://, redis://, rediss://); `repr` hides the password."""

    scheme: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    path: str  # PostgreSQL: the maintenance database; Redis: the database index
    query: str

    def redacted(self) -> str:
        """The URL with its password replaced, for error messages."""
        auth = quote(self.user, safe="") + (":***" if self.password else "")
        return urlunsplit(
            (self.scheme, _netloc(auth, self.host, self.port), "/" + self.path, "", "")
        )

    def scrub(self, message: str) -> str:
        """message with every occurrence of the password (plain or URL-quoted) replaced."""
        for secret in {self.password, quote(self.password, safe="")} - {""}:
            message = message.replace(secret, "***")
        return message

    def query_only(self, *names: str) -> str:
        """The query string restricted to the given parameters (e.g. sslmode)."""
        return urlencode([(k, v) for k, v in parse_qsl(self.query) if k in names])


def parse_server_url(
    url: str, schemes: tuple[str, ...], default_port: int, default_user: str
) -> ServerUrl:
    """Split an admin URL, refusing other schemes; the message never shows the password."""
    try:
        parts = urlsplit(url)
        port = parts.port or default_port
    except ValueError:
        raise Invalid("the admin URL cannot be parsed") from None
    if parts.scheme not in schemes:
        allowed = ", ".join(scheme + "://" for scheme in schemes)
        raise Invalid(f"the admin URL must start with one of {allowed}")
    # libpq also takes ?password=: move it out of the query, which goes on command lines.
    params = parse_qsl(parts.query, keep_blank_values=True)
    in_query = [value for key, value in params if key == "password"]
    return ServerUrl(
        scheme=parts.scheme,
        host=parts.hostname or "localhost",
        port=port,
        user=unquote(parts.username or "") or default_user,
        password=unquote(parts.password or "") or next(iter(in_query), ""),
        path=parts.path.lstrip("/"),
        query=urlencode([(key, value) for key, value in params if key != "password"]),
    )


def build_url(
    scheme: str, user: str, password: str | None, host: str, port: int, path: str, query: str = ""
) -> str:
    """A server URL with user and password quoted (an IPv6 host in brackets)."""
    auth = quote(user, safe="") + ("" if password is None else ":" + quote(password, safe=""))
    return urlunsplit((scheme, _netloc(auth, host, port), "/" + path, query, ""))


def _netloc(auth: str, host: str, port: int) -> str:
    return f"{auth}@[{host}]:{port}" if ":" in host else f"{auth}@{host}:{port}"
