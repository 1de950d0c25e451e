"""One `skyforge up` per data dir: an flock on data_dir/run/skyforge.lock, held for life.

A second process on the same data dir would adopt the first one's Caddy and stop its apps.
The lock is the kernel's: it goes with the process however it ends (a SIGKILL too), so a file
left behind never blocks the next start. The file holds the holder's pid, to name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DataDirInUse(RuntimeError):
    """Another live process holds the data dir."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "another process"
        super().__init__(
            f"the data dir {data_dir} is in use by another skyforge up ({holder}); "
            "stop it, or give this one its own SKYFORGE_DATA_DIR"
        )
        self.pid = pid


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.path = self.data_dir / "run" / "skyforge.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Hold the lock, or raise DataDirInUse naming the holder."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Not inherited (O_CLOEXEC): Caddy and the apps outlive or outrun this process.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirInUse(self.data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the last descriptor releases the flock
        self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
