"""Identifiers: time-ordered, URL-safe, 26 characters (ULID-like)."""

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A new unique id whose string order follows creation order (within this process, also
    for ids made in the same millisecond: the random part then counts up, as monotonic ULIDs)."""
    global _last
    with _lock:
        value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
        if value <= _last:
            value = _last + 1
        _last = value
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
