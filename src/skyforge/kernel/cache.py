"""The cache port: hot reads kept close, dropped by tag when the domain events say they changed.

An entry is a JSON value under a key, read under a set of tags (the families it depends on: a
project's services, a user's memberships ...). `invalidate(tags)` gives each tag a new
generation; an entry is served only while every one of its tags still has the generation it
was stored under. `get` reads the generations *before* the caller reads the database and hands
them back as the `stamp` to store the value with, so a value read just before a change
committed carries the old generation and is never served once the change's events have been
handled: the classic "read old -> invalidate -> write stale back" race cannot win.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Stamp = tuple[str, ...]  # the generations of an entry's tags, in the order the tags were given


@dataclass(frozen=True, slots=True)
class Lookup:
    """A `get`: the value when `hit`; `stamp` to `put` a freshly read value under (None: don't,
    the cache could not tell its generations)."""

    hit: bool
    value: Any = None
    stamp: Stamp | None = None


class Cache(Protocol):
    async def get(self, key: str, tags: Sequence[str]) -> Lookup:
        """The entry under `key` if its tags' generations are still those it was stored with."""
        ...

    async def put(self, key: str, value: Any, stamp: Stamp, ttl: float) -> None:
        """Store a JSON-compatible `value` read after the `get` that gave `stamp`."""
        ...

    async def invalidate(self, tags: Iterable[str]) -> None:
        """Entries under any of `tags` are no longer served (here and on every replica sharing
        this cache)."""
        ...

    async def aclose(self) -> None: ...
