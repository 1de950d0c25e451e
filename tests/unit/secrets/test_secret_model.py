"""Secret names, values and versions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyforge.kernel.errors import Invalid
from skyforge.secrets.model import Secret, binding, check_name, check_value

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", ["API_KEY", "_x", "a1", "X" * 255, "PATHLIKE"])
def test_names_are_environment_variable_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "1A", "A=B", "A\nB", "A B", "A-B", "X" * 256, "PORT", "HOME", "SKYFORGE_X", "É", None, 5],
)
def test_other_names_are_refused(name: object) -> None:
    with pytest.raises(Invalid):
        check_name(name)


@pytest.mark.parametrize("value", ["", "a\x00b", "x" * (64 * 1024 + 1), "é" * 40000, None, 3])
def test_empty_huge_or_nul_values_are_refused(value: object) -> None:
    with pytest.raises(Invalid):
        check_value("A", value)


def test_a_value_of_exactly_64_kib_is_allowed() -> None:
    assert check_value("A", "x" * 64 * 1024)


def test_a_deleted_secret_set_again_continues_its_version_numbers() -> None:
    secret = Secret("s", "p", "shop", "A", None, None, 0, AT, AT)
    assert secret.new_version(None, None, AT) == 1
    assert secret.new_version(None, None, AT) == 2
    secret.delete(AT)
    assert secret.deleted and secret.versions == 0
    assert secret.new_version("svc", "web", AT) == 3
    assert (secret.deleted, secret.versions, secret.service) == (False, 1, "web")
    assert secret.visible_to("svc") and not secret.visible_to("other")


def test_the_binding_tells_every_project_name_and_version_apart() -> None:
    bindings = {binding(p, n, v) for p in ("p1", "p2") for n in ("A", "AB") for v in (1, 2, 12)}
    assert len(bindings) == 12
