"""The instances' log files: `<release_id>.<type>.<n>.log` (and `<release_id>.release.log`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from skyforge.runtimes.base import LogLine

_BLOCK = 65536
_RECENT_RELEASES = 3  # logs() shows the current release and the ones just before it
_POLL = 0.3


def source_of(path: Path) -> str:
    """ "web.1" for `<release>.web.1.log`, "release" for `<release>.release.log`."""
    parts = path.name.removesuffix(".log").split(".")
    return "release" if parts[-1] == "release" else ".".join(parts[-2:])


def release_of(path: Path) -> str:
    """The release id a log file belongs to."""
    return path.name.split(".", 1)[0]


def tail_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last `count` complete lines of a file, and the offset just past them."""
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    complete = data.rfind(b"\n") + 1  # an unterminated last line is still being written
    lines = data[:complete].splitlines()
    if position > 0 and lines:
        lines = lines[1:]  # it may start mid-line
    chosen = lines[-count:] if count > 0 else []
    return [line.decode("utf-8", "replace") for line in chosen], position + complete


def recent_files(directory: Path) -> list[Path]:
    """Log files of the most recent releases, oldest first."""
    try:
        files = [(path.stat().st_mtime, path) for path in directory.glob("*.log")]
    except OSError:
        return []
    files.sort()
    releases: list[str] = []
    for _, path in reversed(files):
        if release_of(path) not in releases:
            releases.append(release_of(path))
    keep = set(releases[:_RECENT_RELEASES])
    return [path for _, path in files if release_of(path) in keep]


def _read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """Complete lines appended since `offset`, and the new offset."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size < offset:
            offset = 0  # truncated: start again
        handle.seek(offset)
        data = handle.read(size - offset)
    complete = data.rfind(b"\n") + 1
    lines = data[:complete].splitlines()
    return [line.decode("utf-8", "replace") for line in lines], offset + complete


def _snapshot(directory: Path, tail: int) -> tuple[list[LogLine], dict[Path, int]]:
    now = time.time()
    lines: list[LogLine] = []
    offsets: dict[Path, int] = {}
    for path in directory.glob("*.log") if directory.is_dir() else []:
        try:
            offsets[path] = path.stat().st_size  # older releases: only what comes from now on
        except OSError:
            continue
    for path in recent_files(directory):
        try:
            found, offsets[path] = tail_lines(path, tail)
        except OSError:
            continue
        lines.extend(LogLine(now, source_of(path), line) for line in found)
    return lines[-tail:] if tail > 0 else [], offsets


async def read_logs(directory: Path, *, follow: bool, tail: int) -> AsyncIterator[LogLine]:
    """The last `tail` lines (oldest file first), then, if `follow`, lines as they come."""
    lines, offsets = await asyncio.to_thread(_snapshot, directory, tail)
    for line in lines:
        yield line
    while follow:
        await asyncio.sleep(_POLL)
        for path in sorted(directory.glob("*.log")) if directory.is_dir() else []:
            try:
                found, offsets[path] = _read_from(path, offsets.get(path, 0))
            except OSError:
                continue
            now = time.time()
            for text in found:
                yield LogLine(now, source_of(path), text)
