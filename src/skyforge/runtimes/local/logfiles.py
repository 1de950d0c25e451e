"""The instances' log files: `<release_id>.<type>.<n>.log` (and `<release_id>.release.log`).

Each line starts with its arrival stamp (see logrelay.py). A rotated generation is
`<file>.1`; a file renamed by rotation keeps its inode, so positions are kept per inode.
Lines without a stamp (files written before stamps existed) get the file's modification time.

Searches page with cursors (following is in logfollow.py), opaque to clients:
- page cursors `p1.<stamp>.<ino>.<offset>`: lines are ordered by (stamp, inode, offset); the
  next page starts after that key.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Generator
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from skyforge.kernel.errors import Invalid
from skyforge.runtimes.base import LogLine, LogPage, LogQuery
from skyforge.runtimes.local.logrelay import STAMP_WIDTH, log_files, stamp_of

_BLOCK = 65536
_RECENT_RELEASES = 3  # logs() shows the current release and the ones just before it
_PROBE_LINES = 64  # a binary search probe looks this far for a stamped line

Key = tuple[str, int, int]  # (stamp, inode, offset of the line)


def _base(path: Path) -> str:
    return path.name.removesuffix(".1").removesuffix(".log")


def source_of(path: Path) -> str:
    """ "web.1" for `<release>.web.1.log`, "release" for `<release>.release.log`."""
    parts = _base(path).split(".")
    return "release" if parts[-1] == "release" else ".".join(parts[-2:])


def release_of(path: Path) -> str:
    """The release id a log file belongs to."""
    return path.name.split(".", 1)[0]


def split_stamp(raw: bytes) -> tuple[str | None, bytes]:
    """A stored line's stamp (None: an unstamped line) and its text."""
    if (
        len(raw) > STAMP_WIDTH
        and raw[STAMP_WIDTH - 1 : STAMP_WIDTH + 1] == b"Z "
        and raw[4:5] == b"-"
        and raw[10:11] == b"T"
    ):
        return raw[:STAMP_WIDTH].decode("ascii", "replace"), raw[STAMP_WIDTH + 1 :]
    return None, raw


def seconds_of(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def text_of(raw: bytes) -> str:
    return raw.rstrip(b"\r\n").decode("utf-8", "replace")


def mtime_stamp(path: Path) -> str:
    try:
        return stamp_of(path.stat().st_mtime)
    except OSError:
        return stamp_of(0)


def tail_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last `count` complete lines of a file (without stamps), and the offset past them."""
    found, end = tail_spans(path, count)
    return [text_of(split_stamp(raw)[1]) for _, raw in found], end


def tail_spans(path: Path, count: int) -> tuple[list[tuple[int, bytes]], int]:
    """The last `count` complete lines with their start offsets, and the offset past them."""
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    complete = data.rfind(b"\n") + 1  # an unterminated last line is still being written
    lines: list[tuple[int, bytes]] = []
    start = 0
    while start < complete:
        end = data.index(b"\n", start) + 1
        lines.append((position + start, data[start:end]))
        start = end
    if position > 0 and lines:
        lines = lines[1:]  # it may start mid-line
    chosen = lines[-count:] if count > 0 else []
    return chosen, position + complete


def recent_files(directory: Path) -> list[Path]:
    """Log files of the most recent releases, oldest first."""
    files = []
    for path in log_files(directory):
        try:
            files.append((path.stat().st_mtime, path))
        except OSError:
            continue
    files.sort()
    releases: list[str] = []
    for _, path in reversed(files):
        if release_of(path) not in releases:
            releases.append(release_of(path))
    keep = set(releases[:_RECENT_RELEASES])
    return [path for _, path in files if release_of(path) in keep]


# -- search -----------------------------------------------------------------------------------


def encode_page(key: Key) -> str:
    return f"p1.{key[0]}.{key[1]:x}.{key[2]:x}"


def decode_page(cursor: str) -> Key:
    stamp, rest = cursor[3 : 3 + STAMP_WIDTH], cursor[3 + STAMP_WIDTH :]
    try:
        if not cursor.startswith("p1.") or not rest.startswith("."):
            raise ValueError(cursor)
        seconds_of(stamp)
        ino, offset = rest[1:].split(".")
        return stamp, int(ino, 16), int(offset, 16)
    except ValueError:
        raise Invalid("cursor is not one this API gave out") from None


def _offset_at(handle: BinaryIO, size: int, target: str) -> int:
    """A line start before every line stamped `target` or later (binary search by offset)."""
    lo, hi = 0, size
    while hi - lo > _BLOCK:
        mid = (lo + hi) // 2
        handle.seek(mid)
        handle.readline()  # the rest of a line that started before mid
        stamp, position = None, handle.tell()
        for _ in range(_PROBE_LINES):
            start = handle.tell()
            raw = handle.readline()
            if not raw.endswith(b"\n"):
                break
            stamp = split_stamp(raw)[0]
            if stamp is not None:
                position = start
                break
        if stamp is None or stamp >= target:
            hi = mid
        else:
            lo = position
    return lo


@dataclass(frozen=True)
class Scan:
    path: Path
    ino: int
    since: str | None
    until: str | None
    after: Key | None
    text: str | None
    upto: int | None = None  # offset the scan stops at (None: the file's last complete line)

    def lines(self) -> Generator[tuple[Key, LogLine], None, None]:
        """Matching lines of one file, in order, read lazily."""
        for key, line, _ in self.spans():
            yield key, line

    def spans(self) -> Generator[tuple[Key, LogLine, int], None, None]:
        """Matching lines with where each ends in the file."""
        source, release = source_of(self.path), release_of(self.path)
        fallback = mtime_stamp(self.path)
        start = max(filter(None, [self.since, self.after[0] if self.after else None]), default="")
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 -- closed when the generator ends
        except OSError:
            return
        with handle:
            size = handle.seek(0, os.SEEK_END)
            offset = _offset_at(handle, size, start) if start else 0
            handle.seek(offset)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    return  # still being written
                if self.upto is not None and offset + len(raw) > self.upto:
                    return
                at, offset = offset, offset + len(raw)
                stamp, body = split_stamp(raw)
                stamp = stamp or fallback
                if self.until is not None and stamp > self.until:
                    return
                key = (stamp, self.ino, at)
                if stamp < start or (self.after is not None and key <= self.after):
                    continue
                text = text_of(body)
                if self.text is not None and self.text not in text.lower():
                    continue
                yield key, LogLine(seconds_of(stamp), source, text, release), offset


def wanted_file(path: Path, query: LogQuery) -> bool:
    if query.release_id is not None and release_of(path) != query.release_id:
        return False
    source = source_of(path)
    return query.process is None or source == query.process or source.startswith(query.process)


def normal(query: LogQuery) -> LogQuery:
    """`process` "web" stands for every web instance ("web." as a prefix)."""
    if query.process is not None and "." not in query.process and query.process != "release":
        return replace(query, process=query.process + ".")
    return query


def bounds(query: LogQuery) -> tuple[str | None, str | None]:
    since = stamp_of(query.since) if query.since is not None else None
    until = stamp_of(query.until) if query.until is not None else None
    return since, until


def search(directory: Path, query: LogQuery) -> LogPage:
    """Lines matching `query` in time order, at most `query.limit` of them."""
    after = decode_page(query.after) if query.after else None
    since, until = bounds(query)
    query = normal(query)
    scans = []
    for path in log_files(directory):
        if not wanted_file(path, query):
            continue
        try:
            ino = path.stat().st_ino
        except OSError:
            continue
        text = query.text.lower() if query.text else None
        scans.append(Scan(path, ino, since, until, after, text).lines())
    merged = heapq.merge(*scans, key=lambda pair: pair[0])
    try:
        found = list(islice(merged, query.limit + 1))
    finally:
        for scan in scans:
            scan.close()
    more = len(found) > query.limit
    found = found[: query.limit]
    items = [
        LogLine(line.time, line.source, line.line, line.release_id, encode_page(key))
        for key, line in found
    ]
    return LogPage(items, encode_page(found[-1][0]) if more else None)
