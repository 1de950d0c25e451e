"""Every command's help: it opens, fits 80 columns, and shows no value type on flags."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from skyforge.cli.main import app


def command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):  # a group's
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "skyforge")
def test_a_commands_help_fits_80_columns_and_flags_take_no_value(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "<bool>" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_the_new_commands_are_listed() -> None:
    listed = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}).stdout

    for name in ("git:remote", "maintenance", "releases:info", "--version"):
        assert name in listed
    assert "update" in CliRunner().invoke(app, ["services", "--help"]).stdout


def test_a_flag_given_a_value_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["projects", "list", "--json", "true"])

    assert result.exit_code == 2
