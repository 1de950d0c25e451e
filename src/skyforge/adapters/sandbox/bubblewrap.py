"""The sandbox of every tenant process: bubblewrap, then the unprivileged uid of its service.

A command becomes `prlimit <limits> -- bwrap <mounts> -- setpriv <drop> -- argv`:
- prlimit sets the resource limits (data size, open files, processes of the uid, CPU time);
- bwrap (started by the control plane, so it can bind paths only root may reach) builds a new
  mount, pid, IPC and UTS namespace: the system (/usr, /etc) read-only, /proc of its own pid
  namespace, a minimal /dev, a private /tmp, and only the paths it is given (the slug, a build
  cache) bound at their own paths; the data dir, other tenants' files, key files and the
  router's admin socket do not exist in there;
- setpriv switches to the service's uid, drops every capability and sets no_new_privs, so no
  setuid binary can give root back. The network is shared: apps call APIs and listen on PORT.

Signals: the whole tree stays in the process group the caller starts (nothing calls setsid), so
the caller stops it with killpg as before; SIGKILL of bwrap's pid 1 ends the namespace, so
nothing a tenant forks survives it. The tenant cannot signal or trace anything outside: its pid
namespace shows only its own processes, and its uid owns nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from skyforge.adapters.sandbox.uids import UidBook, default_first_uid
from skyforge.kernel.limits import Limits

SYSTEM = (Path("/usr"), Path("/etc"))
_TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Empty and writable in each sandbox, its own (tmpfs): never the host's.
_PRIVATE = (Path("/tmp"), Path("/var/tmp"), Path("/run"))  # noqa: S108
HINT = "install bubblewrap (make up does) or set SKYFORGE_SANDBOX=off (see docs/security.md)"


class SandboxUnavailable(Exception):
    """The sandbox cannot be set up on this host; tenant processes must not start."""


class Sandbox:
    """Wraps tenant commands; `Sandbox.off()` runs them as they are (SKYFORGE_SANDBOX=off)."""

    def __init__(
        self,
        uids: UidBook | None,
        *,
        readable: Sequence[Path] = (),
        hidden: Sequence[Path] = (),
    ) -> None:
        self._uids = uids
        self._readable = tuple(readable)
        # Never visible, even when under a system directory (a data dir in /usr/local/var...).
        self._hidden = tuple(path for path in hidden if _provided(path))
        self._problem: str | None = None
        self._checked = uids is None

    @classmethod
    def off(cls) -> Sandbox:
        return cls(None)

    @property
    def enabled(self) -> bool:
        return self._uids is not None

    def check(self) -> str | None:
        """Why the sandbox cannot work here (None: it works); probed once, by running it."""
        if not self._checked:
            self._problem = self._probe()
            self._checked = True
        return self._problem

    def jail(self, key: str, limits: Limits) -> Jail:
        """How to run the processes of one service (`key`) under `limits`."""
        return Jail(self, key, limits)

    def uid(self, key: str) -> int | None:
        return None if self._uids is None else self._uids.uid(key)

    def _probe(self) -> str | None:
        missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if not shutil.which(tool)]
        if missing:
            return f"{', '.join(missing)} not found"
        if os.geteuid() != 0:
            return "the control plane must run as root to give each service its own uid"
        argv = self.wrap(
            ["/bin/sh", "-c", "test $(id -u) != 0 && ! test -r /etc/shadow"],
            uid=self.uid("_probe") or 0,
            cwd=Path("/"),
            writable=(),
            limits=Limits(),
            keep_running=False,
        )
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap did not run: {exc}"
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            return f"bubblewrap failed: {said[-1] if said else f'exit code {done.returncode}'}"
        return None

    def wrap(
        self,
        argv: Sequence[str],
        *,
        uid: int,
        cwd: Path,
        writable: Iterable[Path],
        limits: Limits,
        keep_running: bool,
        readable: Iterable[Path] = (),
    ) -> list[str]:
        """argv as it runs in the sandbox, as `uid`."""
        rlimits = [
            f"--nofile={limits.open_files}",
            f"--nproc={limits.processes}",
            f"--data={limits.memory_mb << 20}",
        ]
        if limits.cpu_seconds is not None:
            rlimits.append(f"--cpu={limits.cpu_seconds}")
        jail = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        jail += ["--hostname", "sandbox"]
        if not keep_running:
            jail.append("--die-with-parent")  # a build dies with the control plane; apps live on
        for path in SYSTEM:
            jail += ["--ro-bind", str(path), str(path)]
        for top in _TOP_LINKS:  # merged /usr: /bin -> usr/bin...
            if os.path.islink(top):
                jail += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                jail += ["--ro-bind", top, top]
        jail += ["--proc", "/proc", "--dev", "/dev"]
        for path in _PRIVATE:
            jail += ["--perms", "1777", "--tmpfs", str(path)]
        for path in self._hidden:
            jail += ["--perms", "0711", "--tmpfs", str(path)]
        made = set(self._hidden)  # empty directories now
        for path in (*self._readable, *readable):
            if _provided(path) and not self._in_hidden(path):
                continue  # the system is there already
            jail += [*self._parents(path, made), "--ro-bind", str(path), str(path)]
        for path in writable:
            jail += [*self._parents(path, made), "--bind", str(path), str(path)]
        jail += ["--chdir", str(cwd)]
        drop = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        drop += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        return ["prlimit", *rlimits, "--", "bwrap", *jail, "--", "setpriv", *drop, "--", *argv]

    def _in_hidden(self, path: Path) -> bool:
        return any(path.is_relative_to(hidden) for hidden in self._hidden)

    def _parents(self, path: Path, made: set[Path]) -> list[str]:
        """bwrap arguments creating the missing ancestors of `path` (traversable only)."""
        args: list[str] = []
        for parent in reversed(path.parents):
            if parent == Path("/") or parent in made:
                continue
            if _provided(parent) and not self._in_hidden(parent):
                continue
            made.add(parent)
            args += ["--perms", "0711", "--dir", str(parent)]
        return args


@dataclass(frozen=True)
class Jail:
    """The sandbox as one service's processes get it."""

    sandbox: Sandbox
    key: str
    limits: Limits

    @property
    def uid(self) -> int | None:
        """The uid its processes run as (None: the sandbox is off)."""
        return self.sandbox.uid(self.key)

    def command(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        writable: Sequence[Path],
        readable: Sequence[Path] = (),
        keep_running: bool = False,
    ) -> list[str]:
        """argv wrapped (as it is when the sandbox is off); SandboxUnavailable when broken."""
        problem = self.sandbox.check()
        if problem is not None:
            raise SandboxUnavailable(f"the sandbox cannot be set up: {problem}; {HINT}")
        uid = self.sandbox.uid(self.key)
        if uid is None:
            return list(argv)
        return self.sandbox.wrap(
            argv,
            uid=uid,
            cwd=cwd,
            writable=writable,
            readable=readable,
            limits=self.limits,
            keep_running=keep_running,
        )

    def own(self, *paths: Path) -> None:
        """Give `paths` (recursively) to the service's uid, so its processes may write them.

        Never follows a symlink, and leaves a file with several links alone (its other name
        may be outside: changing its owner would hand that file over).
        """
        uid = self.sandbox.uid(self.key)
        if uid is None:
            return
        for top in paths:
            if top.lstat().st_uid == uid:
                continue  # given before (a cache, a slug restarted): its files are the uid's
            for root, dirs, files in os.walk(top):
                os.chown(root, uid, uid, follow_symlinks=False)
                for name in (*dirs, *files):
                    path = os.path.join(root, name)
                    info = os.lstat(path)
                    if info.st_nlink > 1 and not os.path.isdir(path):
                        continue
                    os.chown(path, uid, uid, follow_symlinks=False)


def _provided(path: Path) -> bool:
    """Exists in every sandbox already: the system, and the private directories themselves."""
    return path in _PRIVATE or any(path.is_relative_to(top) for top in SYSTEM)


def sandbox_of(data_dir: Path, first_uid: int | None = None) -> Sandbox:
    """The sandbox of a data dir: uids from its range, recorded in `<data dir>/sandbox`."""
    first = default_first_uid(data_dir) if first_uid is None else first_uid
    book = UidBook(data_dir / "sandbox" / "uids.json", first)
    return Sandbox(book, readable=system_readable(), hidden=[data_dir])


def system_readable() -> list[Path]:
    """What a sandbox must see besides /usr and /etc: this Python when installed elsewhere,
    and the resolver's configuration when /etc/resolv.conf links out of /etc (systemd)."""
    wanted = [Path(sys.base_prefix).resolve(), Path("/etc/resolv.conf").resolve()]
    return [path for path in wanted if path.exists() and not _provided(path)]
