"""`make up` installs SkyForge alone; `make test` adds the test tools, also after a `make up`
(what make would run, read with `make -n` in a copy of the project's Makefile)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_ONLY = "pip install --quiet -e .\n"
WITH_TEST_TOOLS = "pip install --quiet -e '.[dev]'"


def planned(project: Path, target: str) -> str:
    done = subprocess.run(
        ["make", "-n", target], cwd=project, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_up_installs_only_the_runtime_and_make_test_adds_the_test_tools(
    tmp_path: Path,
) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    fresh_up = planned(tmp_path, "up")
    assert "-m venv .venv" in fresh_up
    assert RUNTIME_ONLY in fresh_up
    assert "[dev]" not in fresh_up
    assert "bwrap" in fresh_up  # the sandbox comes with both
    fresh_test = planned(tmp_path, "test")
    assert WITH_TEST_TOOLS in fresh_test
    assert "bwrap" in fresh_test

    # After `make up`: the venv and its stamp exist, newer than pyproject.toml.
    os.utime(tmp_path / "pyproject.toml", (0, 0))
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    (tmp_path / ".venv" / ".installed").touch()
    again_up = planned(tmp_path, "up")
    assert "pip install" not in again_up
    after_up_test = planned(tmp_path, "test")
    assert WITH_TEST_TOOLS in after_up_test
    assert "-m venv" not in after_up_test  # the same venv, with the test tools added
