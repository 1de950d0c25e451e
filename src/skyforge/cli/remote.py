"""The `skyforge` git remote of the current directory: which project and service it pushes to.

Its URL has the form of a git push deploy, `http(s)://HOST/git/{project}/{service}.git`
(api/rest/git.py); git is run as an argument list, never through a shell.
"""

from __future__ import annotations

import re
import subprocess
from urllib.parse import unquote

import httpx

from skyforge.cli.output import fail

REMOTE = "skyforge"
_PATH = re.compile(r"/git/([^/]+)/([^/]+)\.git/?")
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")  # a project or service name


def remote_url() -> str | None:
    """The URL of the current directory's `skyforge` remote, None without one (or git)."""
    try:
        found = subprocess.run(
            ["git", "remote", "get-url", "--", REMOTE],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() or None if found.returncode == 0 else None


def target(url: str) -> tuple[str, str] | None:
    """(project, service) of a git push URL of SkyForge, else None."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    match = _PATH.fullmatch(parsed.path)
    if match is None:
        return None
    project, service = unquote(match[1]), unquote(match[2])
    if not (_NAME.fullmatch(project) and _NAME.fullmatch(service)):
        return None
    return project, service


def _inferred(what: str, option: str) -> tuple[str, str]:
    url = remote_url()
    found = target(url) if url else None
    if found is None:
        why = (
            f"the `{REMOTE}` git remote ({url}) is not a SkyForge git URL"
            if url
            else f"this directory has no `{REMOTE}` git remote"
        )
        fail(
            f"which {what}? Give {option} ({why}; `skyforge git:remote` adds one)",
            code=2,
        )
    return found


def inferred_project() -> str:
    """The project of the `skyforge` remote; a usage error without one."""
    return _inferred("project", "-p/--project or set SKYFORGE_PROJECT")[0]


def inferred_service() -> str:
    """The service of the `skyforge` remote; a usage error without one."""
    return _inferred("service", "its name")[1]
