"""Processes seen through /proc: identity that survives pid reuse, liveness, group signals."""

from __future__ import annotations

import contextlib
import os
import signal


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may hold spaces and parentheses: everything after the last ")" is fixed.
    return text[text.rfind(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): pid + this names one process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def wall_time(ticks: int) -> float | None:
    """Unix seconds of a start_time() (clock ticks since boot); None when unknown."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def is_running(pid: int, started: int) -> bool:
    """The process `pid` that started at `started` still runs (zombies count as dead)."""
    fields = _stat_fields(pid)
    if not fields or len(fields) <= 19:
        return False
    return fields[0] not in ("Z", "X") and int(fields[19]) == started


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a process group, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
