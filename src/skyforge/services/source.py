"""Validation of a service's git source: the URL (or local path) and the branch.

Pure: no I/O. The values end up as arguments of `git clone`, so anything git could read as an
option or hand to a remote helper is refused here, before it is stored. Credentials in an
http(s) URL are split off here (they are stored sealed, and shown as `***`); where the URL
leads (which host, which local path) is checked by the source guard the context is given.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from skyforge.kernel.errors import Invalid

MAX_URL_LENGTH = 2048
MAX_BRANCH_LENGTH = 255
MASK = "***"  # what stands for stored credentials in a URL shown (or given back)

# Schemes git handles itself; any other `scheme://` makes git run `git-remote-<scheme>`.
_SCHEMES = frozenset({"http", "https", "ssh", "git", "git+ssh", "ssh+git", "file"})
# `<transport>::<address>` runs the remote helper `git-remote-<transport>` (ext:: runs a shell).
_TRANSPORT_HELPER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# scp-like `[user@]host:path`: git treats a colon before the first slash this way.
_SCP_LIKE = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._~+-]+)@)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.+)$"
)
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
# Percent-encoded control characters: git decodes some URL parts (credentials, paths).
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
# Characters check-ref-format refuses anywhere in a ref name (besides control characters).
_REF_FORBIDDEN = frozenset(" ~^:?*[\\")


def _has_control(value: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)


def _refuse(detail: str) -> Invalid:
    return Invalid(f"git source: {detail}")


def validate_git_url(value: str) -> str:
    """Return a git URL or absolute local path safe to pass to `git clone`, else raise Invalid."""
    if not isinstance(value, str) or not value.strip():
        raise _refuse("a git URL or an absolute path is required")
    if _has_control(value):
        raise _refuse("control characters (newlines, tabs...) are not allowed")
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if url.startswith("-"):
        raise _refuse("the URL must not start with '-' (git would read it as an option)")
    if _ENCODED_CONTROL.search(url):
        raise _refuse("percent-encoded control characters are not allowed")
    if _TRANSPORT_HELPER.match(url):
        raise _refuse("'transport::address' remote helpers (such as ext::) are not allowed")
    if url.startswith("/"):
        return url
    scheme = _SCHEME.match(url)
    if scheme:
        _check_url(url, scheme.group(1).lower())
        return url
    scp = _SCP_LIKE.match(url)
    if scp:
        _check_scp(scp.group("user"), scp.group("host"), scp.group("path"))
        return url
    raise _refuse(
        "expected an http(s)://, ssh://, git:// or file:// URL, user@host:path, "
        "or an absolute local path"
    )


def _check_url(url: str, scheme: str) -> None:
    if scheme not in _SCHEMES:
        raise _refuse(f"the scheme '{scheme}' is not supported")
    if any(ch.isspace() for ch in url):
        raise _refuse("a URL must not contain whitespace")
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # .port raises ValueError itself for a non-numeric or huge port
            raise ValueError("port 0")
    except ValueError as exc:
        raise _refuse(f"malformed URL ({exc})") from None
    if scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise _refuse("a file:// URL must be file:///absolute/path")
        return
    host = parts.hostname or ""
    if not (_HOSTNAME.match(host) or (":" in host and _IPV6.match(host))):
        raise _refuse("the URL has no valid host name")
    # ssh receives user and host on its command line: a leading '-' would be an ssh option.
    if (parts.username or "").startswith("-"):
        raise _refuse("the user name must not start with '-'")
    if not parts.path or parts.path == "/":
        raise _refuse("the URL has no repository path")


def _check_scp(user: str | None, host: str, path: str) -> None:
    if (user or "").startswith("-") or host.startswith("-"):
        raise _refuse("user and host must not start with '-'")
    if any(ch.isspace() for ch in path) or path.startswith("-"):
        raise _refuse("the repository path must not start with '-' or contain whitespace")


def validate_branch(value: str) -> str:
    """Return value when it is a valid git branch name (git check-ref-format), else Invalid."""
    if not isinstance(value, str) or not value:
        raise _refuse("a branch name is required")
    if len(value) > MAX_BRANCH_LENGTH:
        raise _refuse(f"the branch name is longer than {MAX_BRANCH_LENGTH} characters")
    if value.startswith("-"):
        raise _refuse("the branch name must not start with '-'")
    problem = _ref_name_problem(value)
    if problem:
        raise _refuse(f"invalid branch name: {problem}")
    return value


def _ref_name_problem(name: str) -> str | None:
    """The first rule of `git check-ref-format --branch` that name breaks, if any."""
    if _has_control(name):
        return "control characters are not allowed"
    bad = sorted({ch for ch in name if ch in _REF_FORBIDDEN})
    if bad:
        return "these characters are not allowed: " + " ".join(repr(ch) for ch in bad)
    if name in ("@", "HEAD"):
        return f"'{name}' is reserved"
    if ".." in name:
        return "'..' is not allowed"
    if "@{" in name:
        return "'@{' is not allowed"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it must not start or end with '/' or contain '//'"
    if name.endswith("."):
        return "it must not end with '.'"
    for component in name.split("/"):
        if component.startswith("."):
            return "no part may start with '.'"
        if component.endswith(".lock"):
            return "no part may end with '.lock'"
    return None


# -- where a source leads, and its credentials ------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}
_AUTHORITY = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)$"
)
# What git may see of a URL's authority once credentials are split off: host and port only.
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?$")
_SSH_USER = re.compile(r"^[A-Za-z0-9._~+][A-Za-z0-9._~+-]*$")


@dataclass(frozen=True)
class Endpoint:
    """Where a network source connects: the transport git uses, the host and the port."""

    protocol: str  # http, https, ssh or git
    host: str  # a name (lower case) or an address, without brackets
    port: int
    user: str | None = None  # the ssh login name (not a secret)


def _scheme(url: str) -> str | None:
    found = _SCHEME.match(url)
    if found is None:
        return None
    scheme = found.group(1).lower()
    return "ssh" if scheme in ("git+ssh", "ssh+git") else scheme


def local_path(url: str) -> str | None:
    """The path a local source (an absolute path or a file:// URL) names, else None."""
    if url.startswith("/"):
        return url
    if _scheme(url) == "file":
        path = url[len("file://") :]
        if any(ch in path for ch in "%?#"):  # git would read them otherwise than urlsplit
            raise _refuse("a file:// URL must not contain '%', '?' or '#'")
        return path
    return None


def endpoint(url: str) -> Endpoint:
    """Where a network source (validated, without credentials) connects."""
    parts = _AUTHORITY.match(url)
    if parts is not None:
        protocol = _scheme(url) or ""
        user, _, host_port = parts.group("authority").rpartition("@")
        found = _HOST_PORT.match(host_port)
        if found is None or protocol not in _DEFAULT_PORTS:
            raise _refuse("the URL's host must be a host name or an address, with a port or not")
        port = int(found.group("port") or _DEFAULT_PORTS[protocol])
        if not 0 < port < 65536:
            raise _refuse("the URL's port must be between 1 and 65535")
        host = found.group("host").strip("[]").lower()
        return Endpoint(protocol, host, port, user or None)
    scp = _SCP_LIKE.match(url)
    if scp is None:
        raise _refuse("not a network source")
    return Endpoint("ssh", scp.group("host").strip("[]").lower(), 22, scp.group("user"))


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without credentials, the credentials `user[:password]` or None).

    Only http(s) carries credentials in the URL; an ssh login name stays (it is no secret),
    and a password for ssh or git:// is refused (ssh authenticates with keys, git:// not at
    all). `MASK` as the credentials means "the ones stored for this URL"."""
    parts = _AUTHORITY.match(url)
    if parts is None:
        return url, None
    userinfo, at, host_port = parts.group("authority").rpartition("@")
    protocol = _scheme(url)
    if protocol in ("http", "https"):
        bare = f"{parts.group('scheme')}://{host_port}{parts.group('rest')}"
        return bare, (userinfo or None) if at else None
    if protocol == "ssh" and at and not _SSH_USER.match(userinfo):
        raise _refuse("an ssh URL takes a login name only (ssh authenticates with keys)")
    if protocol == "git" and at:
        raise _refuse("a git:// URL has no authentication: leave out the user name")
    return url, None


def without_credentials(url: str) -> str:
    """The URL with any user info left out (for values that must not keep it)."""
    parts = _AUTHORITY.match(url)
    if parts is None:
        return url
    host_port = parts.group("authority").rpartition("@")[2]
    return f"{parts.group('scheme')}://{host_port}{parts.group('rest')}"


def shown(url: str, has_credentials: bool) -> str:
    """The URL as it may be shown: stored credentials appear as `***@`."""
    if not has_credentials:
        return url
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{MASK}@{rest}"


def user_and_password(credentials: str) -> tuple[str, str]:
    """The (decoded) user name and password of `user[:password]` credentials."""
    user, _, password = credentials.partition(":")
    return unquote(user), unquote(password)
