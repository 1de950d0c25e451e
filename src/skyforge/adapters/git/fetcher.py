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

    async def fetch(self, url: str, branch: str, dest: Path, log: LogSink) -> str:
        """Clone `branch` of `url` into `dest`, drop `.git`, and return the commit id."""
        try:
            url, branch = validate_git_url(url), validate_branch(branch)
        except Invalid as exc:
            # Checked again here: the stored value may predate a stricter rule.
            log(f" !     {exc.detail}")
            raise StepFailed(exc.detail) from None
        log(f"-----> Fetching {mask_credentials(url)} (branch {branch})")
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
