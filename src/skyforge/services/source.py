"""Validation of a service's git source: the URL (or local path) and the branch.

Pure: no I/O. The values end up as arguments of `git clone`, so anything git could read as an
option or hand to a remote helper is refused here, before it is stored.
"""

import re
from urllib.parse import urlsplit

from skyforge.kernel.errors import Invalid

MAX_URL_LENGTH = 2048
MAX_BRANCH_LENGTH = 255

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
