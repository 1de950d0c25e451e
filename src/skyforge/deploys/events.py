from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class DeployQueued(Event):
    type: ClassVar[str] = "deploy.queued"
    project: str
    service: str
    deploy_id: str
    kind: str


@dataclass(frozen=True)
class DeploySucceeded(Event):
    type: ClassVar[str] = "deploy.succeeded"
    project: str
    service: str
    deploy_id: str
    release: int


@dataclass(frozen=True)
class DeployFailed(Event):
    type: ClassVar[str] = "deploy.failed"
    project: str
    service: str
    deploy_id: str
    reason: str


@dataclass(frozen=True)
class DeployCancelled(Event):
    type: ClassVar[str] = "deploy.cancelled"
    project: str
    service: str
    deploy_id: str


@dataclass(frozen=True)
class ReleaseCreated(Event):
    type: ClassVar[str] = "release.created"
    project: str
    service: str
    release: int
    description: str
    service_id: str
    release_id: str
    rollback: bool


@dataclass(frozen=True)
class DeployStarted(Event):
    """A deploy left the queue: its job began (status "building" or "deploying")."""

    type: ClassVar[str] = "deploy.started"
    project: str
    service: str
    deploy_id: str
    status: str


@dataclass(frozen=True)
class DeployStatusChanged(Event):
    """A running deploy moved on (its build is done: "deploying")."""

    type: ClassVar[str] = "deploy.status_changed"
    project: str
    service: str
    deploy_id: str
    status: str
