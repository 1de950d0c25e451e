"""Resource limits of a tenant's processes: a value object shared by services and runtimes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from skyforge.kernel.errors import Invalid

# What a service may choose, within bounds (the operator's defaults apply to what it leaves).
# Its processes get memory_mb, processes, open_files; its builds processes, open_files and the
# build_* ones (builds need more memory; their CPU time is bounded).
_BOUNDS = {
    "memory_mb": (32, 65_536),
    "processes": (8, 16_384),
    "open_files": (64, 1_048_576),
    "build_memory_mb": (256, 65_536),
    "build_cpu_seconds": (10, 86_400),
}
_NAMES = ", ".join(_BOUNDS)
_FOR_APPS = {"memory_mb": "memory_mb", "processes": "processes", "open_files": "open_files"}
_FOR_BUILDS = {
    "build_memory_mb": "memory_mb",
    "processes": "processes",
    "open_files": "open_files",
    "build_cpu_seconds": "cpu_seconds",
}


@dataclass(frozen=True)
class Limits:
    """Per process: memory (MiB of data), open files; per service uid: processes (threads
    count). `cpu_seconds` bounds CPU time per process (builds; None: unbounded)."""

    memory_mb: int = 512
    processes: int = 256
    open_files: int = 1024
    cpu_seconds: int | None = None

    def for_apps(self, resources: dict[str, int]) -> Limits:
        """These (the operator's) limits with a service's own choices for its processes."""
        return replace(self, **{_FOR_APPS[k]: v for k, v in resources.items() if k in _FOR_APPS})

    def for_builds(self, resources: dict[str, int]) -> Limits:
        """These (the operator's build) limits with a service's own choices for its builds."""
        chosen = {_FOR_BUILDS[k]: v for k, v in resources.items() if k in _FOR_BUILDS}
        return replace(self, **chosen)


def change_limits(current: dict[str, int], changes: Any) -> dict[str, int]:
    """A service's resource choices after `changes` ({"memory_mb": 256, "processes": null}:
    null goes back to the operator's default), each checked against its bounds."""
    if not isinstance(changes, dict):
        raise Invalid(f"resources must be an object of {_NAMES}")
    result = dict(current)
    for name, amount in changes.items():
        if name not in _BOUNDS:
            raise Invalid(f"unknown resource {name!r}: use {_NAMES}")
        if amount is None:
            result.pop(name, None)
            continue
        low, high = _BOUNDS[name]
        if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount <= high:
            raise Invalid(f"resources.{name} must be an integer from {low} to {high}")
        result[name] = amount
    return result
