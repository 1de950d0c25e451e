from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class BuildSucceeded(Event):
    type: ClassVar[str] = "build.succeeded"
    project: str
    service: str
    build_id: str
    commit: str
    stack: str


@dataclass(frozen=True)
class BuildFailed(Event):
    type: ClassVar[str] = "build.failed"
    project: str
    service: str
    build_id: str
    reason: str


@dataclass(frozen=True)
class BuildStarted(Event):
    type: ClassVar[str] = "build.started"
    project: str
    service: str
    build_id: str
