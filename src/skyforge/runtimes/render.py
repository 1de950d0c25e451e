"""Pure: a release of a service -> the desired state a runtime converges to."""

from __future__ import annotations

from pathlib import Path

from skyforge.deploys.model import Release
from skyforge.deploys.ports import BuildRef, ServiceRef
from skyforge.runtimes.base import AppRelease, ProcessType

ONE_OFF = "release"


def render(service: ServiceRef, release: Release, build: BuildRef) -> AppRelease:
    """The AppRelease for `release` at the service's current scale."""
    processes = tuple(
        ProcessType(name, command, service.count(name))
        for name, command in sorted(build.process_types.items())
        if name != ONE_OFF
    )
    return AppRelease(
        key=service.key,
        hostnames=service.hostnames,
        release_id=release.id,
        version=release.version,
        slug_dir=Path(build.slug_dir),
        processes=processes,
        env={**build.env, **release.config},
        health_check_path=service.health_check_path,
        release_command=build.process_types.get(ONE_OFF),
    )
