"""Custom hostnames: what a user may attach to a service, in one canonical ASCII spelling.

Internationalized names follow IDNA 2008 with the UTS #46 mapping (the `idna` package; the
standard library's codec is IDNA 2003, which maps `ß` to `ss` and allows symbols 2008 forbids).

Lookalike rule: the kernel's (kernel/lookalikes.py), shared with project and service names.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable

import idna

from skyforge.kernel.errors import Invalid
from skyforge.kernel.lookalikes import lookalike_problem

# Always the local machine (RFC 6761), whatever the platform's own suffixes are.
RESERVED_SUFFIXES = ("localhost",)
MAX_NAME = 253
_MAX_INPUT = 1024  # longer input is refused before any Unicode processing
_LDH = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# The last label of a name that URL parsers (WHATWG) read as an IPv4 address: 127.1, 0x7f.1
_NUMERIC = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_URL_PARTS = (
    ("://", "a URL: give the hostname only"),
    ("@", "a hostname: no user name"),
    ("/", "a hostname: no path"),
    ("?", "a hostname: no query"),
    ("#", "a hostname: no fragment"),
    ("\\", "a hostname"),
    (":", "a hostname: no port"),
    ("[", "a hostname"),
    ("%", "a hostname: no percent-encoding"),
)


def normalize_hostname(
    value: str, *, platform_suffixes: Iterable[str], allow_wildcard: bool = False
) -> str:
    """The canonical ASCII form of a custom hostname, else raise Invalid saying why."""
    text = _plain_text(value)
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    _refuse_address(text.strip("[]").removesuffix("."), shown)
    for part, what in _URL_PARTS:
        if part in text:
            raise Invalid(f"{shown} is not {what}")
    wildcard = text.startswith("*.")
    if wildcard and not allow_wildcard:
        raise Invalid(f"{shown}: wildcard hostnames are not allowed here")
    name = _to_ascii(text[2:] if wildcard else text, shown)
    _refuse_address(name, shown)
    labels = name.split(".")
    if len(labels) < 2:
        raise Invalid(f"{shown} is a single label: give a fully qualified name (shop.example.com)")
    if _NUMERIC.fullmatch(labels[-1]):
        raise Invalid(f"{shown}: the last label must not be numeric (it reads as an IP address)")
    for label in labels:
        # idna checked these already; kept so no path can ever return anything else.
        if not _LDH.fullmatch(label) or (label[2:4] == "--" and not label.startswith("xn--")):
            raise Invalid(f"{shown} has an invalid label {label!r}")
    _refuse_lookalikes(idna.decode(name).split("."), shown)
    for suffix in (*RESERVED_SUFFIXES, *map(_suffix, platform_suffixes)):
        if name == suffix or name.endswith("." + suffix):
            raise Invalid(f"{shown} is under {suffix!r}, which the platform itself serves")
    return f"*.{name}" if wildcard else name


def _plain_text(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("a hostname must be a string")
    if len(value) > _MAX_INPUT:
        raise Invalid(f"a hostname has at most {MAX_NAME} characters")
    text = value.strip()
    if not text:
        raise Invalid("the hostname is empty")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in text):
        raise Invalid(f"{text[:80]!r} is not a hostname: no spaces or control characters")
    return text


def _to_ascii(text: str, shown: str) -> str:
    """UTS #46 mapping (case, width, ideographic full stops), then IDNA 2008 to A-labels."""
    if "*" in text:
        raise Invalid(f"{shown}: '*' may only stand alone as the first label (*.example.com)")
    try:
        mapped = idna.uts46_remap(text, std3_rules=True, transitional=False)
        name = mapped.removesuffix(".")  # the root's dot, once: "a.com." is "a.com"
        if not name or name.startswith(".") or ".." in name or name.endswith("."):
            raise Invalid(f"{shown} has an empty label")
        encoded = idna.encode(name, uts46=False).decode("ascii")
    except idna.IDNAError as error:
        raise Invalid(f"{shown} is not a valid hostname: {error}") from None
    if len(encoded) > MAX_NAME:
        raise Invalid(f"{shown} is longer than {MAX_NAME} characters once encoded")
    return encoded


def _refuse_address(text: str, shown: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return
    raise Invalid(f"{shown} is an IP address: custom domains must be hostnames")


def _refuse_lookalikes(labels: list[str], shown: str) -> None:
    problem = lookalike_problem(labels)
    if problem is not None:
        raise Invalid(f"{shown} {problem}")


def _suffix(value: str) -> str:
    """A platform suffix in the form names are compared in (trusted configuration)."""
    suffix = value.strip().strip(".").lower()
    return suffix if suffix.isascii() else idna.encode(suffix, uts46=True).decode("ascii")
