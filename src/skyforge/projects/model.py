"""Projects and their environments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from skyforge.kernel.names import dns_label

DEFAULT_ENVIRONMENT = "production"


@dataclass
class Environment:
    id: str
    name: str
    created_at: datetime


@dataclass
class Project:
    id: str
    name: str
    created_at: datetime
    environments: list[Environment] = field(default_factory=list)

    def __post_init__(self) -> None:
        dns_label(self.name, "project name")

    def environment(self, name: str = DEFAULT_ENVIRONMENT) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)
