"""The log relay: an instance's output -> secret values masked -> stamped -> its log file.

Run as a script (`python -P logrelay.py SECRETS_FD LOG_PATH [FILE_MAX SERVICE_MAX]`, see
`start_relay`), one per instance, with the instance's stdout/stderr pipe as its stdin. It reads
the values to mask as a JSON list from the pipe SECRETS_FD until EOF (never from argv or the
environment: both are readable in /proc), then appends every line, masked, to LOG_PATH.

Each stored line starts with its arrival time, `2026-11-25T01:22:08.123Z ` (fixed width, UTC,
milliseconds): files are appended in time order, so a reader finds a time by binary search over
byte offsets, and the stamps of one format compare as strings.

Size bound: past FILE_MAX bytes the file is renamed to `<file>.1` (one rotated generation) and
a new one is started; at start and after each rotation, the oldest files of the service's log
directory are deleted until it holds at most SERVICE_MAX bytes. The relay enforces this itself
because it outlives the control plane: a chatty app must stay bounded while nobody watches.

It runs in its own session so it outlives the control plane like the instance does, and exits at
EOF: when the instance and every child holding the pipe are gone. Deliberately imports nothing of
SkyForge but the masker: one runs per instance, it must stay small.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 65536
_LONGEST_LINE = 1 << 20  # a line without newline past this is written as it is (masked)
STAMP_WIDTH = 24  # len("2026-11-25T01:22:08.123Z")


@dataclass(frozen=True)
class LogBounds:
    """How much log a service keeps: per file before rotation, and in all (its directory)."""

    service_bytes: int = 64 << 20
    file_bytes: int = 8 << 20

    @classmethod
    def of_service(cls, total: int) -> LogBounds:
        """A per-file size that keeps several instances and releases under `total`."""
        return cls(total, max(16 << 10, min(8 << 20, total // 8)))


def stamp_of(now: float) -> str:
    """`2026-11-25T01:22:08.123Z`: RFC 3339, UTC, milliseconds, always STAMP_WIDTH long."""
    seconds = int(now)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        ".%03dZ" % int((now - seconds) * 1000)  # noqa: UP031 -- cheap, fixed width
    )


def stamped(text: str, now: float | None = None) -> str:
    """Every line of `text` prefixed with the stamp of `now`; the result ends with a newline."""
    prefix = stamp_of(time.time() if now is None else now) + " "
    body = text[:-1] if text.endswith("\n") else text
    return prefix + body.replace("\n", "\n" + prefix) + "\n"


def start_relay(
    log_path: Path, secrets: list[str], bounds: LogBounds | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a relay appending to `log_path`; returns it and the pipe end the app writes to."""
    bounds = bounds or LogBounds()
    read_out, write_out = os.pipe()
    read_secrets, write_secrets = os.pipe()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:  # where skyforge itself may come from
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    argv = [sys.executable, "-P", __file__, str(read_secrets), str(log_path)]
    argv += [str(bounds.file_bytes), str(bounds.service_bytes)]
    try:
        relay = subprocess.Popen(
            argv,
            stdin=read_out,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(read_secrets,),
            env=env,
            start_new_session=True,  # neither our signals nor our death reach it
        )
    except BaseException:
        os.close(write_out)
        raise
    finally:
        os.close(read_out)
        os.close(read_secrets)
    try:
        with os.fdopen(write_secrets, "w", encoding="utf-8") as handle:
            json.dump(secrets, handle)
    except OSError:
        pass  # the relay died at once: the app's first write fails, the supervisor restarts it
    return relay, write_out


def log_files(directory: Path) -> list[Path]:
    """Every log file of a service directory, rotated generations included."""
    try:
        return [p for p in directory.iterdir() if p.name.endswith((".log", ".log.1"))]
    except OSError:
        return []


def prune(directory: Path, limit: int, keep: Path | None = None) -> None:
    """Delete the oldest files of `directory` until it holds at most `limit` bytes."""
    sized = []
    for path in log_files(directory):
        try:
            info = path.stat()
        except OSError:
            continue
        sized.append((info.st_mtime, path, info.st_size))
    total = sum(size for _, _, size in sized)
    for _, path, size in sorted(sized):
        if total <= limit:
            return
        if path == keep:
            continue
        try:
            path.unlink()  # a relay writing it notices (inode gone) and starts a new file
        except OSError:
            continue
        total -= size


class LogFile:
    """An append-only log file that rotates itself and keeps its directory bounded."""

    def __init__(self, path: Path, bounds: LogBounds) -> None:
        self.path = path
        self.bounds = bounds
        self.fd = self._open()
        prune(path.parent, bounds.service_bytes, keep=path)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, data: bytes) -> None:
        self._reopen_if_moved()
        _write_all(self.fd, data)
        if os.fstat(self.fd).st_size >= self.bounds.file_bytes:
            self._rotate()

    def _reopen_if_moved(self) -> None:
        """Another relay of the same instance rotated it, or a prune deleted it."""
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except OSError:
            same = False
        if not same:
            os.close(self.fd)
            self.fd = self._open()

    def _rotate(self) -> None:
        try:
            os.replace(self.path, f"{self.path}.1")
        except OSError:
            return
        os.close(self.fd)
        self.fd = self._open()
        prune(self.path.parent, self.bounds.service_bytes, keep=self.path)


def relay(source: int, log: LogFile, mask: Callable[[str], str]) -> None:
    """Copy lines from `source` to `log`, each passed through `mask`, then stamped."""
    pending = b""
    while chunk := os.read(source, _CHUNK):
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        if cut == 0 and len(pending) < _LONGEST_LINE:
            continue
        if cut == 0:
            cut = len(pending)
        text = pending[:cut].decode("utf-8", "surrogateescape")
        pending = pending[cut:]
        log.write(stamped(mask(text)).encode("utf-8", "surrogateescape"))
    if pending:
        text = pending.decode("utf-8", "surrogateescape")
        log.write(stamped(mask(text)).encode("utf-8", "surrogateescape"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main(argv: list[str]) -> None:
    from skyforge.kernel.masking import Masker

    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    with os.fdopen(int(argv[1]), encoding="utf-8") as handle:
        values = json.load(handle)
    bounds = LogBounds(int(argv[4]), int(argv[3])) if len(argv) > 4 else LogBounds()
    relay(0, LogFile(Path(argv[2]), bounds), Masker(str(v) for v in values))


if __name__ == "__main__":
    main(sys.argv)
