"""A service's resource limits: checked, reset with null, split between apps and builds."""

from __future__ import annotations

import pytest

from skyforge.kernel.errors import Invalid
from skyforge.kernel.limits import Limits, change_limits


def test_choices_are_bounded_and_null_goes_back_to_the_default() -> None:
    chosen = change_limits({}, {"memory_mb": 256, "open_files": 100})
    assert change_limits(chosen, {"memory_mb": None}) == {"open_files": 100}
    for bad in ({"memory_mb": 8}, {"processes": 10**6}, {"gpu": 1}, {"memory_mb": 1.5}, []):
        with pytest.raises(Invalid):
            change_limits(chosen, bad)


def test_apps_and_builds_each_get_their_own_choices_over_the_operators() -> None:
    chosen = {"memory_mb": 256, "processes": 32, "build_memory_mb": 1024, "build_cpu_seconds": 60}
    apps = Limits(512, 256, 1024).for_apps(chosen)
    assert apps == Limits(memory_mb=256, processes=32, open_files=1024, cpu_seconds=None)
    builds = Limits(4096, 512, 1024, 900).for_builds(chosen)
    assert builds == Limits(memory_mb=1024, processes=32, open_files=1024, cpu_seconds=60)
