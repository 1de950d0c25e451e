"""Cursor pagination: {"items": [...], "next_cursor": ...}."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query

from skyforge.kernel.errors import Invalid

_KEY = re.compile(r"^[0-9a-z]{1,40}$")
Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]


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
