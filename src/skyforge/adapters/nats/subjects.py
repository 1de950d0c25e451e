"""Names on NATS: subjects `<prefix>.<project or _>.<type>`, stream and consumer names.

Everything that becomes part of a subject is checked here: a token with a dot, a space or a
wildcard (`*`, `>`) would publish to, or subscribe to, more than was meant.
"""

from __future__ import annotations

import re

from skyforge.kernel.errors import Invalid

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$")
_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$")


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise Invalid(f"not a NATS subject prefix: {prefix!r} (tokens of letters, digits, _ -)")
    return prefix


def check_name(name: str, what: str = "stream") -> str:
    """A stream or durable consumer name: one token, no dots or wildcards."""
    if not _TOKEN.match(name):
        raise Invalid(f"not a NATS {what} name: {name!r} (letters, digits, _ and -, 1-64)")
    return name


def subject_of(prefix: str, subject: str, type_: str) -> str:
    """`skyforge.shop.deploy.succeeded`; platform-wide events ("-") go under `_`."""
    token = subject if _TOKEN.match(subject) and subject != "-" else "_"
    if not _TYPE.match(type_):
        raise Invalid(f"event type {type_!r} cannot stand in a NATS subject")
    return f"{prefix}.{token}.{type_}"


def durable_of(group: str) -> str:
    """The durable consumer of a consume group (shared by every replica)."""
    return check_name(group.replace(".", "_"), "consumer group")
