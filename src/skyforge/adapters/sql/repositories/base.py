"""Shared bits of the SQL repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn


def utc(value: Any) -> datetime | None:
    """SQLite hands back naive datetimes: every stored time is UTC."""
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def utc_required(value: Any) -> datetime:
    result = utc(value)
    assert result is not None
    return result
