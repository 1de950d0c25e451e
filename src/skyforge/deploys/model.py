"""Deploys and releases: a release is an artifact plus a config snapshot, numbered per service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from skyforge.kernel.errors import Conflict

QUEUED, BUILDING, DEPLOYING = "queued", "building", "deploying"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
KINDS = frozenset({"build", "config", "rollback", "restart"})


@dataclass
class Release:
    id: str
    service_id: str
    version: int
    build_id: str
    config: dict[str, str]
    description: str
    created_at: datetime
    # NAME -> version of the secrets it runs with: references only, resolved at rollout.
    secrets: dict[str, int] = field(default_factory=dict)


@dataclass
class Deploy:
    id: str
    service_id: str
    # build (new source), config (config vars changed), rollback, restart (new instances of
    # the current release, no new release)
    kind: str
    status: str
    created_at: datetime
    build_id: str | None = None
    release_id: str | None = None
    target_release_id: str | None = None  # rollback: the release whose build+config return
    error: str | None = None
    cancel_requested: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # build: a source other than the service's own (a pushed commit); None: the branch head.
    source_url: str | None = None
    source_branch: str | None = None
    source_commit: str | None = None
    # config: the config vars when the change was made, so its release holds exactly that
    # change (a later change has its own deploy); None: the service's at the deploy's start.
    config: dict[str, str] | None = None
    process: str | None = None  # restart: the one process type restarted (None: all)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def advance(self, status: str, at: datetime) -> None:
        """Move to building/deploying (a retried job may start again from the beginning)."""
        if self.finished:
            raise Conflict(f"deploy {self.id} is already {self.status}")
        self.status = status
        self.started_at = self.started_at or at

    def finish(self, status: str, at: datetime, error: str | None = None) -> None:
        self.status, self.finished_at, self.error = status, at, error

    def request_cancel(self, at: datetime) -> bool:
        """Cancel now when queued (True); otherwise ask the running job to stop (False)."""
        if self.finished:
            raise Conflict(f"deploy {self.id} is already {self.status}")
        if self.status == QUEUED:
            self.finish(CANCELLED, at, "cancelled before it started")
            return True
        self.cancel_requested = True
        return False


@dataclass(frozen=True)
class NameChanges:
    """Which names a release added, changed and removed against the release before it."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def name_changes(new: dict[str, object], old: dict[str, object]) -> NameChanges:
    """The names (never the values) that differ between two mappings."""
    return NameChanges(
        added=tuple(sorted(new.keys() - old.keys())),
        changed=tuple(sorted(k for k in new.keys() & old.keys() if new[k] != old[k])),
        removed=tuple(sorted(old.keys() - new.keys())),
    )
