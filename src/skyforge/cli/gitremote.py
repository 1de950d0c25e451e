"""`skyforge git:remote`: the `skyforge` git remote of a service, with no token in .git/config."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Annotated

import typer

from skyforge.cli.client import connect, segment, service_path
from skyforge.cli.options import Project
from skyforge.cli.output import fail, note, say
from skyforge.cli.remote import REMOTE

# git runs a helper that is an absolute path as it is; these characters need no quoting there.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._+-]*")


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"git did not run: {exc}")
    if check and done.returncode != 0:
        fail(f"git {args[0]} failed: {done.stderr.strip()}")
    return done


def helper_command() -> str:
    """The credential helper as git runs it: this Python with the helper module."""
    python = sys.executable
    if not _PLAIN_PATH.fullmatch(python):
        fail(f"the path of Python ({python!r}) cannot be a git credential helper as it is")
    return f"{python} -m skyforge.cli.credential"


def git_remote(
    service: Annotated[str, typer.Argument(help="The service that `git push` deploys.")],
    project: Project,
) -> None:
    """Add (or point) the `skyforge` git remote here at a service: `git push skyforge main`
    deploys. git gets the token from SKYFORGE_TOKEN or your login, never from .git/config."""
    if _git("rev-parse", "--git-dir", check=False).returncode != 0:
        fail("this is not a git repository: run it inside your app's checkout", code=2)
    with connect() as api:
        api.call("GET", service_path(project, service))  # a typo fails before git changes
        url = f"{api.url}/git/{segment(project)}/{segment(service)}.git"
    helper = helper_command()
    exists = _git("remote", "get-url", "--", REMOTE, check=False).returncode == 0
    _git("remote", "set-url" if exists else "add", "--", REMOTE, url)
    key = f"credential.{url}.helper"
    _git("config", "--replace-all", key, "")  # an empty helper drops the ones set before it
    _git("config", "--add", key, helper)
    say(f"Remote {REMOTE} -> {url}", style="green")
    note(f"Deploy with: git push {REMOTE} main")
