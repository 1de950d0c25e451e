from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class CreateService(Command):
    project: str
    name: str
    git: str
    branch: str = "main"
    health_check_path: str | None = None
    boot_timeout: int | None = None  # seconds; None: the operator's default
    # The caller is an organization admin: may build from local paths outside the
    # directories the operator lists.
    org_admin: bool = False
    # A pull-request preview: the source (URL and stored credentials) of this service of the
    # project, already accepted; `git` must name the same URL.
    source_of: str | None = None
    withhold_secrets: bool = False  # a preview of a fork's pull request


@dataclass(frozen=True)
class UpdateService(Command):
    project: str
    name: str
    scale: dict[str, int] | None = None
    health_check_path: str | None = None
    resources: dict[str, int | None] | None = None
    boot_timeout: int | None = None  # seconds; 0: back to the operator's default
    git: str | None = None
    branch: str | None = None
    org_admin: bool = False  # as in CreateService
    maintenance: bool | None = None


@dataclass(frozen=True)
class DeleteService(Command):
    project: str
    name: str


@dataclass(frozen=True)
class SetConfigVars(Command):
    project: str
    name: str
    changes: dict[str, str | None]
    # If-Match: the config versions the caller last saw; None: change whatever is there.
    expected_versions: frozenset[int] | None = None
