"""Secret values masked out of output lines before anyone stores or shows them."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "****"
# Shorter values would mask ordinary words all over the output and say more than they hide.
MIN_LENGTH = 4


class Masker:
    """Replaces every known secret value in a text with ****."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._needles: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Mask these values too (and each line of a multi-line one: output comes by lines)."""
        before = len(self._needles)
        for value in values:
            parts = [value, *(line.strip("\r") for line in value.split("\n"))]
            self._needles.update(p for p in parts if len(p) >= MIN_LENGTH)
        if len(self._needles) != before:
            # Longest first, so a value containing another one is masked whole.
            ordered = sorted(self._needles, key=lambda n: (-len(n), n))
            self._pattern = re.compile("|".join(re.escape(n) for n in ordered))

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)
