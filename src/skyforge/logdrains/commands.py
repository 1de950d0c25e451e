from __future__ import annotations

from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class AddLogDrain(Command):
    project: str
    service: str
    url: str


@dataclass(frozen=True)
class RemoveLogDrain(Command):
    project: str
    service: str
    drain_id: str
