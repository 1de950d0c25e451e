"""GitFetcher: a shallow clone of one branch, with nothing of the host's git setup involved."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from skyforge.adapters.builders.process import BASE_PATH, clean_env, mask_credentials, run_step
from skyforge.kernel.errors import Invalid, StepFailed
from skyforge.kernel.logs import LogSink
from skyforge.services.source import validate_branch, validate_git_url

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names


class GitFetcher:
    """Implements SourceFetcher with the git command line."""

    def __init__(self, timeout: float = 300.0, *, git: str | None = None) -> None:
        self.timeout = timeout
        self.git = git or shutil.which("git", path=BASE_PATH) or "git"

    async def fetch(
        self, url: str, branch: str, dest: Path, log: LogSink, commit: str | None = None
    ) -> str:
        """Clone `branch` of `url` (or just `commit`) into `dest`, drop `.git`; the commit id."""
        try:
            url, branch = validate_git_url(url), validate_branch(branch)
            if commit is not None and not _COMMIT.match(commit):
                raise Invalid(f"not a commit id: {commit[:80]!r}")
        except Invalid as exc:
            # Checked again here: the stored value may predate a stricter rule.
            log(f" !     {exc.detail}")
            raise StepFailed(exc.detail) from None
        at = f"commit {commit[:12]} of {branch}" if commit else f"branch {branch}"
        log(f"-----> Fetching {mask_credentials(url)} ({at})")
        with tempfile.TemporaryDirectory(prefix="skyforge-git-home-") as home:
            env = clean_env(
                {
                    # An empty HOME and no system config: no credential helpers, url rewrites,
                    # hooks or fsmonitor of the host's user can take part in the clone.
                    "HOME": home,
                    "XDG_CONFIG_HOME": home,
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_TERMINAL_PROMPT": "0",  # fail instead of waiting for a password
                    "GIT_ASKPASS": "",
                    "SSH_ASKPASS": "",
                    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
                    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
                }
            )
            if commit is None:
                await run_step(
                    [
                        *(self.git, "-c", "protocol.ext.allow=never", "clone"),
                        *("--depth", "1", "--single-branch", "--branch", branch),
                        *("--", url, str(dest)),
                    ],
                    what="git clone",
                    log=log,
                    env=env,
                    timeout=self.timeout,
                )
            else:
                await self._fetch_commit(url, commit, dest, log, env)
            out: list[str] = []
            await run_step(
                [self.git, "rev-parse", "HEAD"],
                what="git rev-parse",
                log=out.append,
                env=env,
                timeout=self.timeout,
                cwd=dest,
            )
        commit = out[-1].strip() if out else ""
        if not _COMMIT.match(commit):
            log(" !     git rev-parse gave no commit id")
            raise StepFailed("git clone failed: no commit id for HEAD")
        # The artifact carries the files of one revision, not the repository's history.
        shutil.rmtree(dest / ".git")
        log(f"-----> Fetched commit {commit[:12]}")
        return commit

    async def _fetch_commit(
        self, url: str, commit: str, dest: Path, log: LogSink, env: dict[str, str]
    ) -> None:
        """Exactly one commit (protocol v2 lets a client want any object id; a later push to
        the branch cannot change what this deploy builds)."""
        git = (self.git, "-c", "protocol.ext.allow=never")
        dest.mkdir(parents=True, exist_ok=True)
        steps = [
            ([*git, "init", "-q", str(dest)], "git init"),
            ([*git, "-C", str(dest), "fetch", "-q", "--depth=1", "--", url, commit], "git fetch"),
            ([*git, "-C", str(dest), "checkout", "-q", "--detach", "FETCH_HEAD"], "git checkout"),
        ]
        for argv, what in steps:
            await run_step(argv, what=what, log=log, env=env, timeout=self.timeout)
