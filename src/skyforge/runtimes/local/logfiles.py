"""The instances' log files: `<release_id>.<type>.<n>.log` (and `<release_id>.release.log`).

Each line starts with its arrival stamp (see logrelay.py). A rotated generation is
`<file>.1`; a file renamed by rotation keeps its inode, so positions are kept per inode.
Lines without a stamp (files written before stamps existed) get the file's modification time.

Two kinds of cursor, both opaque to clients:
- follow cursors `f1.<ino>:<offset>-...`: how far each file was read. Resuming reads every
  file from there, and any file not named from its start (it was created later): nothing is
  lost or repeated, whatever order the processes wrote in.
- page cursors `p1.<stamp>.<ino>.<offset>`: lines are ordered by (stamp, inode, offset); the
  next page starts after that key.
"""

from __future__ import annotations

import asyncio
import heapq
import os
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from skyforge.kernel.errors import Invalid
from skyforge.runtimes.base import LogLine, LogPage, LogQuery
from skyforge.runtimes.local.logrelay import STAMP_WIDTH, log_files, stamp_of

_BLOCK = 65536
_RECENT_RELEASES = 3  # logs() shows the current release and the ones just before it
_POLL = 0.3
_READ_PER_POLL = 1 << 20  # per file and poll: a burst is read over several polls
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


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\r\n").decode("utf-8", "replace")


def _mtime_stamp(path: Path) -> str:
    try:
        return stamp_of(path.stat().st_mtime)
    except OSError:
        return stamp_of(0)


def tail_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last `count` complete lines of a file (without stamps), and the offset past them."""
    found, end = _tail(path, count)
    return [_text(split_stamp(raw)[1]) for _, raw in found], end


def _tail(path: Path, count: int) -> tuple[list[tuple[int, bytes]], int]:
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
class _Scan:
    path: Path
    ino: int
    since: str | None
    until: str | None
    after: Key | None
    text: str | None

    def lines(self) -> Generator[tuple[Key, LogLine], None, None]:
        """Matching lines of one file, in order, read lazily."""
        source, release = source_of(self.path), release_of(self.path)
        fallback = _mtime_stamp(self.path)
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
                at, offset = offset, offset + len(raw)
                stamp, body = split_stamp(raw)
                stamp = stamp or fallback
                if self.until is not None and stamp > self.until:
                    return
                key = (stamp, self.ino, at)
                if stamp < start or (self.after is not None and key <= self.after):
                    continue
                text = _text(body)
                if self.text is not None and self.text not in text.lower():
                    continue
                yield key, LogLine(seconds_of(stamp), source, text, release)


def _wanted(path: Path, query: LogQuery) -> bool:
    if query.release_id is not None and release_of(path) != query.release_id:
        return False
    source = source_of(path)
    return query.process is None or source == query.process or source.startswith(query.process)


def search(directory: Path, query: LogQuery) -> LogPage:
    """Lines matching `query` in time order, at most `query.limit` of them."""
    after = decode_page(query.after) if query.after else None
    since = stamp_of(query.since) if query.since is not None else None
    until = stamp_of(query.until) if query.until is not None else None
    if query.process is not None and "." not in query.process and query.process != "release":
        query = LogQuery(**{**query.__dict__, "process": query.process + "."})
    scans = []
    for path in log_files(directory):
        if not _wanted(path, query):
            continue
        try:
            ino = path.stat().st_ino
        except OSError:
            continue
        text = query.text.lower() if query.text else None
        scans.append(_Scan(path, ino, since, until, after, text).lines())
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


# -- follow -----------------------------------------------------------------------------------


def encode_follow(offsets: dict[int, int]) -> str:
    return "f1." + "-".join(f"{ino:x}:{offset:x}" for ino, offset in sorted(offsets.items()))


def decode_follow(cursor: str) -> dict[int, int]:
    if not cursor.startswith("f1."):
        raise Invalid("cursor is not one this API gave out")
    try:
        pairs = [item.split(":") for item in cursor[3:].split("-") if item]
        return {int(ino, 16): int(offset, 16) for ino, offset in pairs}
    except ValueError:
        raise Invalid("cursor is not one this API gave out") from None


def _inodes(directory: Path) -> dict[int, Path]:
    found = {}
    for path in log_files(directory):
        try:
            info = path.stat()
        except OSError:
            continue
        found[info.st_ino] = path
    return found


def end_cursor(directory: Path) -> str:
    """A follow cursor past every complete line written so far."""
    offsets = {}
    for ino, path in _inodes(directory).items():
        try:
            offsets[ino] = _tail(path, 0)[1]
        except OSError:
            continue
    return encode_follow(offsets)


def _read_from(path: Path, offset: int) -> tuple[list[tuple[int, bytes]], int]:
    """Complete lines appended since `offset` (at most a bound), and the new offset."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size < offset:
            offset = 0  # truncated: start again
        handle.seek(offset)
        data = handle.read(min(size - offset, _READ_PER_POLL))
    complete = data.rfind(b"\n") + 1
    lines, start = [], 0
    while start < complete:
        end = data.index(b"\n", start) + 1
        lines.append((offset + start, data[start:end]))
        start = end
    return lines, offset + complete


@dataclass
class _Pending:
    stamp: str
    ino: int
    start: int
    end: int
    line: LogLine


def _to_lines(path: Path, ino: int, found: list[tuple[int, bytes]]) -> list[_Pending]:
    source, release = source_of(path), release_of(path)
    fallback = _mtime_stamp(path)
    pending = []
    for start, raw in found:
        stamp, body = split_stamp(raw)
        stamp = stamp or fallback
        line = LogLine(seconds_of(stamp), source, _text(body), release)
        pending.append(_Pending(stamp, ino, start, start + len(raw), line))
    return pending


def _snapshot(directory: Path, tail: int) -> tuple[list[_Pending], dict[int, int]]:
    """The last `tail` lines of the recent releases, and where each file's reading starts."""
    inodes = _inodes(directory)
    offsets: dict[int, int] = {}
    for ino, path in inodes.items():
        try:
            offsets[ino] = path.stat().st_size  # older releases: only what comes from now on
        except OSError:
            continue
    candidates: list[_Pending] = []
    recent = set(recent_files(directory))
    for ino, path in inodes.items():
        if path not in recent or ino not in offsets:
            continue
        try:
            found, offsets[ino] = _tail(path, tail)
        except OSError:
            continue
        candidates.extend(_to_lines(path, ino, found))
    candidates.sort(key=lambda p: p.stamp)  # stable: each file's own order is kept
    chosen = candidates[-tail:] if tail > 0 else []
    for pending in reversed(chosen):  # each file resumes at its first chosen line
        offsets[pending.ino] = pending.start
    return chosen, offsets


def _poll(directory: Path, offsets: dict[int, int]) -> list[_Pending]:
    """New lines of every file, in stamp order; files not in `offsets` are read from 0."""
    inodes = _inodes(directory)
    for gone in set(offsets) - set(inodes):
        del offsets[gone]
    found: list[_Pending] = []
    for ino, path in inodes.items():
        try:
            lines, _ = _read_from(path, offsets.get(ino, 0))
        except OSError:
            continue
        offsets.setdefault(ino, 0)
        found.extend(_to_lines(path, ino, lines))
    found.sort(key=lambda p: p.stamp)
    return found


def _emit(pending: _Pending, offsets: dict[int, int]) -> LogLine:
    offsets[pending.ino] = pending.end
    line = pending.line
    return LogLine(line.time, line.source, line.line, line.release_id, encode_follow(offsets))


async def read_logs(
    directory: Path, *, follow: bool, tail: int, cursor: str | None = None
) -> AsyncIterator[LogLine]:
    """The last `tail` lines (or what follows `cursor`), then, if `follow`, lines as they come."""
    if cursor:
        offsets = decode_follow(cursor)
        first = await asyncio.to_thread(_poll, directory, offsets)
    else:
        first, offsets = await asyncio.to_thread(_snapshot, directory, tail)
    for pending in first:
        yield _emit(pending, offsets)
    while follow:
        await asyncio.sleep(_POLL)
        for pending in await asyncio.to_thread(_poll, directory, offsets):
            yield _emit(pending, offsets)
