"""The Service aggregate: config vars and scale rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyforge.kernel.errors import Invalid
from skyforge.services.model import GitSource, Service


def service(name: str = "web", **kw: object) -> Service:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Service("s1", "p1", "shop", "e1", name, GitSource("/src", "main"), at, at, **kw)  # type: ignore[arg-type]


def test_config_changes_set_and_unset_like_heroku() -> None:
    svc = service(config={"A": "1", "B": "2"})
    assert svc.change_config({"A": "9", "B": None, "C": "3"})
    assert svc.config == {"A": "9", "C": "3"}
    assert not svc.change_config({"A": "9"})  # the same value: nothing to release


@pytest.mark.parametrize("changes", [{"PORT": "1"}, {"SKYFORGE_TOKEN": "x"}, {"9A": "x"}, {}])
def test_reserved_or_malformed_config_changes_leave_the_config_alone(
    changes: dict[str, str | None],
) -> None:
    svc = service(config={"A": "1"})
    with pytest.raises(Invalid):
        svc.change_config(changes)
    assert svc.config == {"A": "1"}


def test_every_process_type_runs_once_until_scaled() -> None:
    svc = service()
    assert svc.count("worker") == 1
    svc.change_scale({"web": 3, "worker": 0}, max_instances=20)
    assert (svc.count("web"), svc.count("worker")) == (3, 0)
    with pytest.raises(Invalid):
        svc.change_scale({"web": 21}, max_instances=20)
    with pytest.raises(Invalid):
        svc.change_scale({"release": 1}, max_instances=20)
    assert svc.count("web") == 3


def test_names_and_health_paths_are_checked() -> None:
    with pytest.raises(Invalid):
        service(name="Web_1")
    with pytest.raises(Invalid):
        service(health_check_path="health")
    assert service(health_check_path="/health?deep=1").health_check_path == "/health?deep=1"
