"""Resource limits of a tenant's processes: a value object shared by services and runtimes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from skyforge.kernel.errors import Invalid

# What a service may ask for at most (the operator's defaults apply when it asks nothing).
_BOUNDS = {"memory_mb": (32, 65_536), "processes": (8, 16_384), "open_files": (64, 1_048_576)}


@dataclass(frozen=True)
class Limits:
    """Per process: memory (MiB of data), open files; per service uid: processes (threads
    count). `cpu_seconds` bounds CPU time per process (builds; None: unbounded)."""

    memory_mb: int = 512
    processes: int = 256
    open_files: int = 1024
    cpu_seconds: int | None = None

    def merged(self, overrides: dict[str, int]) -> Limits:
        """These limits with a service's own choices (already checked) applied."""
        return replace(self, **{k: v for k, v in overrides.items() if k in _BOUNDS})


def change_limits(current: dict[str, int], changes: Any) -> dict[str, int]:
    """A service's resource choices after `changes` ({"memory_mb": 256, "processes": null}:
    null goes back to the operator's default), each checked against its bounds."""
    if not isinstance(changes, dict):
        raise Invalid("resources must be an object of memory_mb, processes, open_files")
    result = dict(current)
    for name, amount in changes.items():
        if name not in _BOUNDS:
            raise Invalid(f"unknown resource {name!r}: use memory_mb, processes or open_files")
        if amount is None:
            result.pop(name, None)
            continue
        low, high = _BOUNDS[name]
        if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount <= high:
            raise Invalid(f"resources.{name} must be an integer from {low} to {high}")
        result[name] = amount
    return result
