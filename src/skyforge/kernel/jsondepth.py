"""JSON nested deeper than any real document is refused before a parser recurses into it.

Python's json (and pydantic after it) recurses once per level: `[[[[...` 100,000 deep raises
RecursionError, a 500. The scanner counts brackets outside strings as the bytes arrive, so the
check costs one pass and no parse, and a body can be checked while it streams in.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skyforge.kernel.errors import Invalid

MAX_DEPTH = 64  # GitHub's and GitLab's payloads nest under 10 levels; our own bodies under 5
_SIGNIFICANT = re.compile(rb'[\[\]{}"\\]')


class TooDeep(Invalid):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the JSON document is nested deeper than {limit} levels")


class DepthScanner:
    """Fed a JSON text in chunks; raises TooDeep as soon as its nesting passes `limit`.

    It does not validate the JSON: malformed text is left to the parser."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        self.limit, self.depth = limit, 0
        self._in_string = self._escaped = False

    def feed(self, chunk: bytes) -> None:
        skip = 0
        if self._escaped and chunk:  # the byte after a backslash that ended the last chunk
            self._escaped, skip = False, 1
        for match in _SIGNIFICANT.finditer(chunk, skip):
            at = match.start()
            if at < skip:
                continue
            char = chunk[at]
            if self._in_string:
                if char == 0x5C:  # backslash: the next byte is escaped, whatever it is
                    skip = at + 2
                    self._escaped = skip > len(chunk)
                elif char == 0x22:
                    self._in_string = False
            elif char == 0x22:
                self._in_string = True
            elif char in (0x5B, 0x7B):
                self.depth += 1
                if self.depth > self.limit:
                    raise TooDeep(self.limit)
            elif char in (0x5D, 0x7D):
                self.depth = max(0, self.depth - 1)


def check_depth(text: bytes | str, limit: int = MAX_DEPTH) -> None:
    """TooDeep when the JSON text nests deeper than `limit`."""
    DepthScanner(limit).feed(text.encode() if isinstance(text, str) else text)


def loads(text: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """json.loads after the depth check: ValueError for malformed JSON, TooDeep for deep."""
    check_depth(text, limit)
    return json.loads(text)
