"""Names of managed databases and users, and SQL quoting (asyncpg quotes no identifiers)."""

from __future__ import annotations

import re

from skyforge.kernel.errors import Invalid

# Marks what SkyForge created, so that delete and rotate never touch anything else.
MANAGED = "skyforge-managed"

# ASCII only on purpose: PostgreSQL folds and truncates identifiers (63 bytes), Redis patterns
# treat *?[\ specially; this alphabet means the same everywhere and needs no escaping.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,30}")
_RULE = "1-63 characters: a lowercase ASCII letter, then lowercase letters, digits or '_'"


def check_prefix(prefix: str) -> str:
    """Return the prefix every managed name must start with, when it is itself a valid name."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise Invalid(f"the managed-name prefix must be {_RULE} (at most 31)")
    return prefix


def managed_name(value: object, prefix: str = "") -> str:
    """Return value when it is a valid managed name starting with prefix, else raise Invalid."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 72 else repr(value)[:69] + "..."
        raise Invalid(f"database name {shown} is invalid: it must be {_RULE}")
    if prefix and (not value.startswith(prefix) or value == prefix):
        raise Invalid(f"database name {value!r} must start with {prefix!r} and not end there")
    return value


def quote_ident(name: str) -> str:
    """An SQL identifier in double quotes, inner quotes doubled (PostgreSQL's quote_ident)."""
    if "\x00" in name:
        raise Invalid("an SQL identifier cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """An SQL string literal, correct whatever standard_conforming_strings is set to."""
    if "\x00" in value:
        raise Invalid("an SQL literal cannot contain NUL")
    quoted = value.replace("'", "''")
    if "\\" in value:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"
