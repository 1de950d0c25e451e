"""The bare repositories behind `git push skyforge`, and the git processes that serve them.

One bare repository per service at `<root>/<project>/<service>.git`, created on first use.
git runs with an empty HOME, no system config and no hooks: nothing of the host's setup or of
a pushed repository's content can make it run anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from skyforge.adapters.builders.process import BASE_PATH, clean_env
from skyforge.adapters.git.pktline import FLUSH, pkt
from skyforge.kernel.errors import Invalid
from skyforge.kernel.names import dns_label

SERVICES = frozenset({"git-upload-pack", "git-receive-pack"})
_HARDENING = (
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "protocol.ext.allow=never"),
)


def _env(home: str) -> dict[str, str]:
    return clean_env(
        {
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }
    )


@dataclass
class GitRun:
    """A running `git <service> --stateless-rpc`: write the request in, read the answer out."""

    proc: asyncio.subprocess.Process
    home: tempfile.TemporaryDirectory[str]

    async def write_all(self, chunks: AsyncIterator[bytes]) -> None:
        """Stream the request body to git's stdin, then close it."""
        assert self.proc.stdin is not None
        try:
            async for chunk in chunks:
                self.proc.stdin.write(chunk)
                await self.proc.stdin.drain()
        finally:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.proc.stdin.close()

    async def read(self, size: int = 65536) -> bytes:
        assert self.proc.stdout is not None
        return await self.proc.stdout.read(size)

    async def wait(self) -> int:
        code = await self.proc.wait()
        self.home.cleanup()
        return code

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.home.cleanup()


class GitRepos:
    """Bare repositories under `root`, served with git's own upload-pack and receive-pack."""

    def __init__(self, root: Path, *, git: str | None = None, timeout: float = 60.0) -> None:
        self.root = root
        self.git = git or shutil.which("git", path=BASE_PATH) or "git"
        self.timeout = timeout

    def path(self, project: str, service: str) -> Path:
        """The repository's path, built only from DNS labels and checked to stay under root."""
        name = f"{dns_label(project, 'project')}/{dns_label(service, 'service')}.git"
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise Invalid("repository path escapes the data dir")
        return path

    async def ensure(self, project: str, service: str, branch: str) -> Path:
        """The repository, created (bare, no template: no sample hooks) when missing, its HEAD
        on the service's deploy branch (a clone checks that branch out)."""
        path = self.path(project, service)
        if not (path / "HEAD").exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            await self._git("init", "-q", "--bare", "--template=", str(path))
            # Deploys fetch exactly the pushed commit by its id.
            await self._git("-C", str(path), "config", "uploadpack.allowAnySHA1InWant", "true")
        head = f"refs/heads/{branch}"
        if (path / "HEAD").read_text().strip() != f"ref: {head}":
            await self._git("-C", str(path), "symbolic-ref", "HEAD", head)
        return path

    async def remove(self, project: str, service: str) -> None:
        """Delete the repository (if any)."""
        path = self.path(project, service)
        if path.exists():
            await asyncio.to_thread(shutil.rmtree, path, True)

    async def advertise(self, path: Path, service: str) -> bytes:
        """`info/refs`: the refs and capabilities, as `--advertise-refs` prints them."""
        run = await self.start(path, service, advertise=True)
        assert run.proc.stdin is not None
        run.proc.stdin.close()
        chunks = []
        try:
            async with asyncio.timeout(self.timeout):
                while chunk := await run.read():
                    chunks.append(chunk)
                code = await run.wait()
        finally:
            run.kill()
        if code != 0:
            raise RuntimeError(f"git {service} --advertise-refs exited with {code}")
        return b"".join(chunks)

    async def start(self, path: Path, service: str, *, advertise: bool = False) -> GitRun:
        """Start `git upload-pack|receive-pack --stateless-rpc [--advertise-refs] <path>`."""
        if service not in SERVICES:
            raise Invalid("service must be git-upload-pack or git-receive-pack")
        flags = ["--stateless-rpc", *(["--advertise-refs"] if advertise else [])]
        home = tempfile.TemporaryDirectory(prefix="skyforge-git-home-")
        proc = await asyncio.create_subprocess_exec(
            *(self.git, *_HARDENING, service.removeprefix("git-"), *flags, str(path)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_env(home.name),
            start_new_session=True,
        )
        return GitRun(proc, home)

    async def update_ref(self, path: Path, ref: str, new: str, old: str) -> None:
        """Move `ref` back from `old` to `new` (delete it when `new` is all zeros), only if it
        still points at `old`."""
        if set(new) == {"0"}:
            await self._git("-C", str(path), "update-ref", "-d", "--", ref, old)
        else:
            await self._git("-C", str(path), "update-ref", "--", ref, new, old)

    async def _git(self, *args: str) -> None:
        with tempfile.TemporaryDirectory(prefix="skyforge-git-home-") as home:
            proc = await asyncio.create_subprocess_exec(
                *(self.git, *_HARDENING, *args),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=_env(home),
            )
            async with asyncio.timeout(self.timeout):
                _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {err.decode(errors='replace')[-500:]}")


def service_header(service: str) -> bytes:
    """The smart HTTP preamble of `info/refs`: `# service=<name>` and a flush."""
    return pkt(f"# service={service}\n".encode()) + FLUSH
