"""Events of log drains. They name the target's host only: a drain URL may carry a token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class LogDrainAdded(Event):
    type: ClassVar[str] = "logdrain.added"
    project: str
    service: str
    drain_id: str
    host: str


@dataclass(frozen=True)
class LogDrainRemoved(Event):
    type: ClassVar[str] = "logdrain.removed"
    project: str
    service: str
    drain_id: str
