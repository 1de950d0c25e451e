"""One unprivileged uid per sandbox key (a service), allocated once and kept in the data dir.

The uids need no /etc/passwd entry: the kernel only compares numbers. Each SkyForge data dir
gets its own range (derived from its path unless the operator sets the first uid), so two
instances on one host do not hand the same uid to different tenants.
"""

from __future__ import annotations

import fcntl
import json
import os
import zlib
from pathlib import Path

RANGE = 65_536  # uids per data dir
_FIRST = 1_000_000  # above any uid a distribution hands out to people or system users
_SLOTS = 32_000  # ranges: _FIRST + 32,000 * 65,536 stays under 2**31


def default_first_uid(data_dir: Path) -> int:
    """The first uid of this data dir's range: stable, and different for other data dirs."""
    slot = zlib.crc32(str(data_dir.resolve()).encode()) % _SLOTS
    return _FIRST + slot * RANGE


class UidBook:
    """key -> uid, in `<path>` (JSON, 0600), allocated under a file lock (several replicas)."""

    def __init__(self, path: Path, first: int) -> None:
        self._path = path
        self._first = first
        self._known: dict[str, int] = {}

    def uid(self, key: str) -> int:
        """The uid of `key`, allocated now if it has none."""
        found = self._known.get(key)
        if found is not None:
            return found
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = os.open(self._path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            book = self._read()
            if key not in book:
                used = set(book.values())
                uid = next(u for u in range(self._first, self._first + RANGE) if u not in used)
                book[key] = uid
                self._write(book)
            self._known = book
        finally:
            os.close(lock)  # releases the lock
        return book[key]

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return {str(k): int(v) for k, v in data.items()}

    def _write(self, book: dict[str, int]) -> None:
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(book, handle)
        os.replace(tmp, self._path)
