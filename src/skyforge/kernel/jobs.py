"""The background job queue port: work that must happen once, after the request returned."""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    async def enqueue(self, kind: str, subject_id: str, serial_key: str) -> None:
        """Queue a job in the current transaction; jobs sharing serial_key never overlap."""

    async def cancel_queued(self, kind: str, subject_id: str) -> None:
        """Drop a job that has not started."""
