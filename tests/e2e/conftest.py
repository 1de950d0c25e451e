"""End-to-end fixtures: a real `skyforge up` process per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.harness import SkyForge


@pytest.fixture
def skyforge(tmp_path: Path) -> Iterator[SkyForge]:
    sf = SkyForge(tmp_path / "data")
    sf.start()
    try:
        yield sf
    finally:
        sf.stop()
        for client in sf.clients:
            client.close()
