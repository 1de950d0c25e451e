"""A build: one source revision turned into an immutable artifact (the slug)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Build:
    id: str
    service_id: str
    status: str  # building, succeeded, failed
    created_at: datetime
    commit: str | None = None
    stack: str | None = None
    slug_dir: str | None = None
    process_types: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    finished_at: datetime | None = None
