"""Following the instances' log files (see logfiles.py for their form): the last lines, then
new ones as they come, optionally only those matching a query.

Follow cursors `f1.<ino>:<offset>-...`, opaque to clients, say how far each file was read.
Resuming reads every file from there, and any file not named from its start (it was created
later): nothing is lost or repeated, whatever order the processes wrote in.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path

from skyforge.kernel.errors import Invalid
from skyforge.runtimes.base import LogLine, LogQuery
from skyforge.runtimes.local.logfiles import (
    Scan,
    bounds,
    mtime_stamp,
    normal,
    recent_files,
    release_of,
    seconds_of,
    source_of,
    split_stamp,
    tail_spans,
    text_of,
    wanted_file,
)
from skyforge.runtimes.local.logrelay import log_files

_POLL = 0.3
_READ_PER_POLL = 1 << 20  # per file and poll: a burst is read over several polls


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
            offsets[ino] = tail_spans(path, 0)[1]
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
    fallback = mtime_stamp(path)
    pending = []
    for start, raw in found:
        stamp, body = split_stamp(raw)
        stamp = stamp or fallback
        line = LogLine(seconds_of(stamp), source, text_of(body), release)
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
            found, offsets[ino] = tail_spans(path, tail)
        except OSError:
            continue
        candidates.extend(_to_lines(path, ino, found))
    candidates.sort(key=lambda p: p.stamp)  # stable: each file's own order is kept
    chosen = candidates[-tail:] if tail > 0 else []
    for pending in reversed(chosen):  # each file resumes at its first chosen line
        offsets[pending.ino] = pending.start
    return chosen, offsets


def _filtered_snapshot(
    directory: Path, tail: int, query: LogQuery
) -> tuple[list[_Pending], dict[int, int]]:
    """The last `tail` lines matching `query` of every retained file, and where each file's
    reading starts (as _snapshot; lines written meanwhile are left to the polls)."""
    since, until = bounds(query)
    query = normal(query)
    text = query.text.lower() if query.text else None
    offsets: dict[int, int] = {}
    candidates: list[_Pending] = []
    for ino, path in _inodes(directory).items():
        try:
            offsets[ino] = tail_spans(path, 0)[1]
        except OSError:
            continue
        if not wanted_file(path, query) or tail == 0:
            continue
        scan = Scan(path, ino, since, until, None, text, upto=offsets[ino])
        last = deque(scan.spans(), maxlen=tail)
        for (stamp, _, start), line, end in last:
            candidates.append(_Pending(stamp, ino, start, end, line))
    candidates.sort(key=lambda p: (p.stamp, p.ino, p.start))
    chosen = candidates[-tail:] if tail > 0 else []
    for pending in reversed(chosen):  # each file resumes at its first chosen line
        offsets[pending.ino] = pending.start
    return chosen, offsets


def _matches(pending: _Pending, path_query: LogQuery, text: str | None) -> bool:
    """Does a followed line pass `path_query` (normalised, see normal)?"""
    line, query = pending.line, path_query
    if query.release_id is not None and line.release_id != query.release_id:
        return False
    if query.process is not None and not (
        line.source == query.process or line.source.startswith(query.process)
    ):
        return False
    if query.since is not None and line.time < query.since:
        return False
    if query.until is not None and line.time > query.until:
        return False
    return text is None or text in line.line.lower()


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
    directory: Path,
    *,
    follow: bool,
    tail: int,
    cursor: str | None = None,
    query: LogQuery | None = None,
) -> AsyncIterator[LogLine]:
    """The last `tail` lines (or what follows `cursor`), then, if `follow`, lines as they come;
    with `query`, only the lines matching it (its since, until, text, release and process)."""
    wanted = normal(query) if query is not None else None
    text = wanted.text.lower() if wanted is not None and wanted.text else None
    if cursor:
        offsets = decode_follow(cursor)
        first = await asyncio.to_thread(_poll, directory, offsets)
    elif query is not None:
        first, offsets = await asyncio.to_thread(_filtered_snapshot, directory, tail, query)
    else:
        first, offsets = await asyncio.to_thread(_snapshot, directory, tail)

    def passing(batch: list[_Pending]) -> Generator[LogLine, None, None]:
        for pending in batch:
            if wanted is None or _matches(pending, wanted, text):
                yield _emit(pending, offsets)
            else:
                offsets[pending.ino] = pending.end  # passed over: the cursor moves on all the same

    for line in passing(first):
        yield line
    while follow:
        await asyncio.sleep(_POLL)
        for line in passing(await asyncio.to_thread(_poll, directory, offsets)):
            yield line
