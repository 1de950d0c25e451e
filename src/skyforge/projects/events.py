from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class ProjectCreated(Event):
    type: ClassVar[str] = "project.created"
    project: str
    project_id: str = ""
    owner_id: str = ""


@dataclass(frozen=True)
class ProjectDeleted(Event):
    type: ClassVar[str] = "project.deleted"
    project: str
