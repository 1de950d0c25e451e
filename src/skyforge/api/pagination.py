"""Cursor pagination: {"items": [...], "next_cursor": ...}; the query types of listings."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator

from skyforge.kernel.errors import Invalid

_KEY = re.compile(r"^[0-9a-z]{1,40}$")
Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]
_NUMBER = re.compile(r"^\s*[-+]?[0-9.eE+-]+\s*$")


def _date_time(value: object) -> object:
    # pydantic would read a bare number as unix seconds: the description promises date-times.
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("expected an RFC 3339 date-time such as 2026-12-04T18:00:00Z")
    return value


Instant = Annotated[
    datetime | None,
    BeforeValidator(_date_time),
    Query(description="an RFC 3339 date-time"),
]


def encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not _KEY.fullmatch(value):
        raise Invalid("cursor is not one this API gave out")
    return value


def page(items: Sequence[Any], limit: int, last_key: str) -> dict[str, Any]:
    """A page; next_cursor is set when the page is full (there may be more)."""
    return {"items": list(items), "next_cursor": encode(last_key) if len(items) == limit else None}
