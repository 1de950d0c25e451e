"""App log files: stamped by the relay, bounded in size, searched by time and text, resumed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skyforge.kernel.errors import Invalid
from skyforge.runtimes.base import LogQuery
from skyforge.runtimes.local.logfiles import search, split_stamp
from skyforge.runtimes.local.logfollow import read_logs
from skyforge.runtimes.local.logrelay import LogBounds, stamped, start_relay

T0 = 1_790_000_000.0  # 2026-09-21T...Z


def write(path: Path, lines: list[tuple[float, str]]) -> None:
    with open(path, "a") as handle:
        for at, text in lines:
            handle.write(stamped(text, at))


def relay_text(tmp_path: Path, output: bytes, secrets: list[str], bounds: LogBounds) -> Path:
    log = tmp_path / "logs" / "rel1.web.1.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    relay, fd = start_relay(log, secrets, bounds)
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(output)
    finally:
        assert relay.wait(20) == 0
    return log


def test_the_relay_stamps_each_line_with_its_arrival_time_and_masks_it(tmp_path: Path) -> None:
    before = time.time()
    log = relay_text(tmp_path, b"one s3cret-x\ntwo\nno newline", ["s3cret-x"], LogBounds())
    lines = log.read_bytes().splitlines()
    assert [split_stamp(line)[1] for line in lines] == [b"one ****", b"two", b"no newline"]
    page = search(log.parent, LogQuery())
    assert [item.line for item in page.items] == ["one ****", "two", "no newline"]
    assert all(before - 0.01 <= item.time <= time.time() for item in page.items)
    assert {(item.source, item.release_id) for item in page.items} == {("web.1", "rel1")}


def test_a_chatty_app_stays_within_the_services_bound(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    old = directory / "rel0.web.1.log"
    write(old, [(T0, "x" * 1000)] * 100)  # an older release's 100 kB
    os.utime(old, (T0, T0))
    bounds = LogBounds(service_bytes=150_000, file_bytes=40_000)  # < rel0 + two rel1 files
    writer = (
        "import sys\n"
        "for n in range(40000):\n"
        "    sys.stdout.write(f'line {n:06d} ' + 'y' * 80 + '\\n')\n"
    )
    log = directory / "rel1.web.1.log"
    relay, fd = start_relay(log, [], bounds)
    app = subprocess.Popen([sys.executable, "-c", writer], stdout=fd)
    os.close(fd)
    assert app.wait(60) == 0
    assert relay.wait(20) == 0
    sizes = {p.name: p.stat().st_size for p in directory.iterdir()}
    # About 3.7 MB went through; what is kept is the bound, plus at most one file's growth.
    assert sum(sizes.values()) <= bounds.service_bytes + bounds.file_bytes, sizes
    assert "rel0.web.1.log" not in sizes  # the oldest went first
    assert set(sizes) <= {"rel1.web.1.log", "rel1.web.1.log.1"}
    newest = search(directory, LogQuery(text="line 039999"))
    assert [item.line.split()[1] for item in newest.items] == ["039999"]


def test_search_finds_lines_by_time_window_text_and_process(tmp_path: Path) -> None:
    write(tmp_path / "r1.web.1.log", [(T0 + n, f"web says {n}") for n in range(0, 20000, 2)])
    write(tmp_path / "r1.worker.1.log", [(T0 + n, f"Worker Tick {n}") for n in range(1, 20000, 2)])
    write(tmp_path / "r1.release.log", [(T0 - 5, "migrated")])

    window = search(tmp_path, LogQuery(since=T0 + 100, until=T0 + 104))
    assert [(i.source, i.line) for i in window.items] == [
        ("web.1", "web says 100"),
        ("worker.1", "Worker Tick 101"),
        ("web.1", "web says 102"),
        ("worker.1", "Worker Tick 103"),
        ("web.1", "web says 104"),
    ]
    assert window.items[0].time == T0 + 100
    text = search(tmp_path, LogQuery(text="worker tick 1999", since=T0 + 15000))
    assert [i.line for i in text.items] == [f"Worker Tick {n}" for n in range(19991, 20000, 2)]
    web = search(tmp_path, LogQuery(process="web", since=T0 + 19990))
    assert {i.source for i in web.items} == {"web.1"} and len(web.items) == 5
    release = search(tmp_path, LogQuery(process="release"))
    assert [i.line for i in release.items] == ["migrated"]
    assert search(tmp_path, LogQuery(release_id="other")).items == []


def test_search_pages_through_every_line_once(tmp_path: Path) -> None:
    write(tmp_path / "r1.web.1.log", [(T0 + n // 3, f"a{n}") for n in range(50)])
    write(tmp_path / "r1.web.2.log", [(T0 + n // 3, f"b{n}") for n in range(50)])
    seen: list[str] = []
    cursor = None
    while True:
        page = search(tmp_path, LogQuery(limit=7, after=cursor, since=T0 + 2))
        seen.extend(i.line for i in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = {f"{f}{n}" for f in "ab" for n in range(6, 50)}
    assert len(seen) == len(expected) and set(seen) == expected
    with pytest.raises(Invalid):
        search(tmp_path, LogQuery(after="p1.garbage"))


def test_lines_written_before_stamps_existed_get_the_files_time(tmp_path: Path) -> None:
    legacy = tmp_path / "r1.web.1.log"
    legacy.write_text("old line\n")
    os.utime(legacy, (T0, T0))
    [item] = search(tmp_path, LogQuery(text="old")).items
    assert (item.time, item.line) == (T0, "old line")
    assert search(tmp_path, LogQuery(since=T0 + 1)).items == []


async def test_following_resumes_after_a_cursor_without_loss_or_repeats(tmp_path: Path) -> None:
    one, two = tmp_path / "r1.web.1.log", tmp_path / "r1.worker.1.log"
    write(one, [(T0, "a0"), (T0 + 1, "a1")])
    write(two, [(T0 + 0.5, "b0")])
    first = [line async for line in read_logs(tmp_path, follow=False, tail=2)]
    assert [line.line for line in first] == ["b0", "a1"]
    write(one, [(T0 + 2, "a2")])
    write(two, [(T0 + 3, "b1")])
    three = tmp_path / "r2.web.1.log"  # a new release's file, after the cursor was given
    write(three, [(T0 + 4, "c0")])
    resumed = [
        line async for line in read_logs(tmp_path, follow=False, tail=0, cursor=first[0].cursor)
    ]
    assert [line.line for line in resumed] == ["a1", "a2", "b1", "c0"]
    again = [
        line async for line in read_logs(tmp_path, follow=False, tail=0, cursor=resumed[-1].cursor)
    ]
    assert again == []
    follow = read_logs(tmp_path, follow=True, tail=0, cursor=resumed[1].cursor)
    try:
        assert (await asyncio.wait_for(anext(follow), 5)).line == "b1"
        assert (await asyncio.wait_for(anext(follow), 5)).line == "c0"
        write(one, [(T0 + 5, "a3")])
        assert (await asyncio.wait_for(anext(follow), 5)).line == "a3"
    finally:
        await follow.aclose()  # type: ignore[attr-defined]
