from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class RequestDeploy(Command):
    project: str
    service: str


@dataclass(frozen=True)
class RollBack(Command):
    project: str
    service: str
    release: int | None = None  # default: the release before the current one


@dataclass(frozen=True)
class CancelDeploy(Command):
    project: str
    service: str
    deploy_id: str
