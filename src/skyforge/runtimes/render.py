"""Pure: a release of a service -> the desired state a runtime converges to."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from skyforge.deploys.model import Release
from skyforge.deploys.ports import BuildRef, ServiceRef
from skyforge.runtimes.base import AppRelease, ProcessType

ONE_OFF = "release"


def render(
    service: ServiceRef,
    release: Release,
    build: BuildRef,
    secrets: Mapping[str, str] | None = None,
) -> AppRelease:
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
        # `secrets`: release.secrets decrypted. A secret beats a config var of the same name,
        # which beats the build's environment.
        env={**build.env, **release.config, **(secrets or {})},
        health_check_path=service.health_check_path,
        release_command=build.process_types.get(ONE_OFF),
        secret_names=frozenset(secrets or {}),
        resources=dict(service.resources),
        boot_timeout=service.boot_timeout,
    )
