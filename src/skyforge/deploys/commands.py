from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class RequestDeploy(Command):
    project: str
    service: str
    # A git push or a provider hook deploys exactly one commit, possibly from another
    # repository than the service's configured source (which stays as it is).
    source_url: str | None = None
    source_branch: str | None = None
    source_commit: str | None = None


@dataclass(frozen=True)
class RollBack(Command):
    project: str
    service: str
    release: int | None = None  # default: the release before the current one


@dataclass(frozen=True)
class RestartService(Command):
    project: str
    service: str
    process: str | None = None  # one process type ("web"); None: every one


@dataclass(frozen=True)
class CancelDeploy(Command):
    project: str
    service: str
    deploy_id: str
