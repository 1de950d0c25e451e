"""Fixtures of the edge router's contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.contract.test_edge import Backend


@pytest.fixture
def backends() -> Iterator[Callable[[], Backend]]:
    """Start backends on demand (each answers with its own port); all closed at the end."""
    started: list[Backend] = []

    def make() -> Backend:
        started.append(Backend())
        return started[-1]

    try:
        yield make
    finally:
        for backend in started:
            backend.close()
