"""The log relay: an instance's output -> secret values masked -> its log file.

Run as a script (`python -P logrelay.py SECRETS_FD LOG_PATH`, see `start_relay`), one per
instance, with the instance's stdout/stderr pipe as its stdin. It reads the values to mask as a
JSON list from the pipe SECRETS_FD until EOF (never from argv or the environment: both are
readable in /proc), then appends every line, masked, to LOG_PATH. It runs in its own session so it
outlives the control plane like the instance does, and exits at EOF: when the instance and every
child holding the pipe are gone. Deliberately imports nothing of SkyForge but the masker: one runs
per instance, it must stay small.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

_CHUNK = 65536
_LONGEST_LINE = 1 << 20  # a line without newline past this is written as it is (masked)


def start_relay(log_path: Path, secrets: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start a relay appending to `log_path`; returns it and the pipe end the app writes to."""
    read_out, write_out = os.pipe()
    read_secrets, write_secrets = os.pipe()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:  # where skyforge itself may come from
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    try:
        relay = subprocess.Popen(
            [sys.executable, "-P", __file__, str(read_secrets), str(log_path)],
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


def relay(source: int, log_fd: int, mask: Callable[[str], str]) -> None:
    """Copy lines from `source` to `log_fd`, each passed through `mask`."""
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
        _write_all(log_fd, mask(text).encode("utf-8", "surrogateescape"))
    if pending:
        _write_all(
            log_fd,
            mask(pending.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"),
        )


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
    log_fd = os.open(argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    relay(0, log_fd, Masker(str(v) for v in values))


if __name__ == "__main__":
    main(sys.argv)
