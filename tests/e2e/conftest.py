"""End-to-end fixtures: a real `skyforge up` process per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.harness import SkyForge


@pytest.fixture
def skyforge(tmp_path: Path) -> Iterator[SkyForge]:
    with SkyForge(tmp_path / "data").running() as sf:
        yield sf
