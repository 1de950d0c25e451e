"""GitFetcher: a shallow clone of one branch, with nothing of the host's git setup involved.

Every clone asks the source guard first: a network source is pinned to the address the guard
checked (`http.curloptResolve` for http(s), ssh's `HostName`, the address itself for git://),
redirects are not followed, and only the source's own protocol is allowed (so a repository
cannot pull in file:// or ext:: submodules). A local source is cloned through git's transport
(`--no-local`: no hard links shared with another repository). Credentials reach git through
a credential helper reading the environment: never an argument, never `.git/config`.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import tempfile
from pathlib import Path

from skyforge.adapters.builders.process import BASE_PATH, PASS_THROUGH, clean_env, run_step
from skyforge.adapters.git.guard import Pinned, SourceGuard
from skyforge.adapters.netguard import is_literal
from skyforge.kernel.errors import Invalid, StepFailed
from skyforge.kernel.logs import LogSink
from skyforge.services.source import (
    local_path,
    shown,
    split_credentials,
    user_and_password,
    validate_branch,
    validate_git_url,
)

_REDIRECTED = re.compile(r"returned error: 30[1278]\b")
_SSH_HOST = re.compile(r"[a-z0-9][a-z0-9.:-]*")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names
# Answers git's `get` with the credentials in its environment, for the source's host only.
_HELPER = """#!/bin/sh
[ "$1" = get ] || exit 0
while IFS= read -r line && [ -n "$line" ]; do
  case "$line" in
    protocol=*) protocol=${line#protocol=} ;;
    host=*) host=${line#host=} ;;
  esac
done
host=$(printf '%s' "$host" | tr '[:upper:]' '[:lower:]')
[ "$protocol" = "$SKYFORGE_GIT_PROTOCOL" ] && [ "$host" = "$SKYFORGE_GIT_HOST" ] || exit 0
printf 'username=%s\\npassword=%s\\n' "$SKYFORGE_GIT_USERNAME" "$SKYFORGE_GIT_PASSWORD"
"""


class GitFetcher:
    """Implements SourceFetcher with the git command line."""

    def __init__(
        self,
        guard: SourceGuard,
        *,
        credentials: str | None = None,  # `user[:password]` of the service's http(s) source
        own_repo: Path | None = None,  # the service's push repository (in the data dir)
        timeout: float = 300.0,
        git: str | None = None,
    ) -> None:
        self.guard, self.credentials, self.own_repo = guard, credentials, own_repo
        self.timeout = timeout
        self.git = git or shutil.which("git", path=BASE_PATH) or "git"

    async def fetch(
        self, url: str, branch: str, dest: Path, log: LogSink, commit: str | None = None
    ) -> str:
        """Clone `branch` of `url` (or just `commit`) into `dest`, drop `.git`; the commit id."""
        try:
            url, branch = validate_git_url(url), validate_branch(branch)
            url, given = split_credentials(url)  # a stored value may predate sealing
            credentials = self.credentials or given
            if commit is not None and not _COMMIT.match(commit):
                raise Invalid(f"not a commit id: {commit[:80]!r}")
            log(f"-----> Fetching {shown(url, credentials is not None)} ({_at(branch, commit)})")
            with tempfile.TemporaryDirectory(prefix="skyforge-git-home-") as home:
                target, options, env = await self._plan(url, credentials, Path(home))
                try:
                    await self._clone(target, branch, commit, dest, log, options, env)
                except StepFailed as exc:
                    if not _REDIRECTED.search(exc.detail):
                        raise
                    hint = "SkyForge follows no redirect of a git source: give the URL it"
                    log(f" !     {hint} leads to")
                    raise StepFailed(f"{exc.detail} ({hint} leads to)") from None
                out: list[str] = []
                await run_step(
                    [self.git, "rev-parse", "HEAD"],
                    what="git rev-parse",
                    log=out.append,
                    env=env,
                    timeout=self.timeout,
                    cwd=dest,
                )
        except Invalid as exc:
            # Checked again here: the stored value may predate a stricter rule, a name may
            # resolve elsewhere now, a path may have become a symlink.
            log(f" !     {exc.detail}")
            raise StepFailed(exc.detail) from None
        found = out[-1].strip() if out else ""
        if not _COMMIT.match(found):
            log(" !     git rev-parse gave no commit id")
            raise StepFailed("git clone failed: no commit id for HEAD")
        # The artifact carries the files of one revision, not the repository's history.
        shutil.rmtree(dest / ".git")
        log(f"-----> Fetched commit {found[:12]}")
        return found

    async def _plan(
        self, url: str, credentials: str | None, home: Path
    ) -> tuple[str, list[str], dict[str, str]]:
        """(what git clones, its -c options, its environment) once the guard agrees."""
        env = {
            # An empty HOME and no system config: no credential helpers, url rewrites,
            # hooks or fsmonitor of the host's user can take part in the clone.
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",  # fail instead of waiting for a password
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
        }
        options = [
            *("-c", "protocol.allow=never"),
            *("-c", "http.followRedirects=false"),  # a redirect could lead anywhere
            *("-c", "http.proxy="),  # as webhooks: the checked address, not a proxy's choice
            *("-c", "credential.helper="),
        ]
        path = local_path(url)
        if path is not None:
            real = self.guard.local(path, self.own_repo)
            env["GIT_ALLOW_PROTOCOL"] = "file"
            return str(real), options, _environment(env)
        pinned = await self.guard.pin(url)
        where = pinned.endpoint
        env["GIT_ALLOW_PROTOCOL"] = where.protocol
        target = url
        if where.protocol in ("http", "https"):
            if not is_literal(where.host):  # an address needs no pin (nor could curl parse it)
                address = _bracketed(pinned.address)
                options += ["-c", f"http.curloptResolve={where.host}:{where.port}:{address}"]
            if credentials:
                helper = home / "credential-helper"
                helper.write_text(_HELPER)
                helper.chmod(0o700)
                user, password = user_and_password(credentials)
                options += ["-c", f"credential.helper={helper}"]
                env.update(
                    SKYFORGE_GIT_PROTOCOL=where.protocol,
                    SKYFORGE_GIT_HOST=_host_header(pinned),
                    SKYFORGE_GIT_USERNAME=user,
                    SKYFORGE_GIT_PASSWORD=password,
                )
        elif where.protocol == "ssh":
            options += ["-c", f"core.sshCommand={_ssh_command(pinned)}"]
        else:  # git://: git itself connects, to the address named in the URL
            path = url.partition("://")[2].partition("/")[2]
            target = f"git://{_bracketed(pinned.address)}:{where.port}/{path}"
        return target, options, _environment(env)

    async def _clone(
        self,
        url: str,
        branch: str,
        commit: str | None,
        dest: Path,
        log: LogSink,
        options: list[str],
        env: dict[str, str],
    ) -> None:
        git = (self.git, *options)
        if commit is None:
            argv = [
                *git,
                *("clone", "--no-local", "--no-hardlinks", "--depth", "1", "--single-branch"),
                *("--branch", branch, "--", url, str(dest)),
            ]
            await run_step(argv, what="git clone", log=log, env=env, timeout=self.timeout)
            return
        # Exactly one commit (protocol v2 lets a client want any object id; a later push to
        # the branch cannot change what this deploy builds).
        dest.mkdir(parents=True, exist_ok=True)
        steps = [
            ([*git, "init", "-q", str(dest)], "git init"),
            ([*git, "-C", str(dest), "fetch", "-q", "--depth=1", "--", url, commit], "git fetch"),
            ([*git, "-C", str(dest), "checkout", "-q", "--detach", "FETCH_HEAD"], "git checkout"),
        ]
        for argv, what in steps:
            await run_step(argv, what=what, log=log, env=env, timeout=self.timeout)


def _at(branch: str, commit: str | None) -> str:
    return f"commit {commit[:12]} of {branch}" if commit else f"branch {branch}"


def _bracketed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


def _host_header(pinned: Pinned) -> str:
    """The host as git gives it to a credential helper (with the port when there is one)."""
    where = pinned.endpoint
    host = f"[{where.host}]" if ":" in where.host else where.host
    default = 443 if where.protocol == "https" else 80
    return host if where.port == default else f"{host}:{where.port}"


def _ssh_command(pinned: Pinned) -> str:
    """ssh to the checked address, its host key still looked up under the name. Git runs
    this through a shell: it holds only fixed words, an IP address and a host name the
    source validation allows (letters, digits, '.', '-', ':'; never a leading '-')."""
    name = pinned.endpoint.host
    if not _SSH_HOST.fullmatch(name):
        raise Invalid(f"git source: {name!r} is not a host name ssh may be given")
    return f"ssh -F /dev/null -o BatchMode=yes -o HostName={pinned.address} -o HostKeyAlias={name}"


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """clean_env, without proxies: as for webhooks, git connects to the address checked."""
    env = clean_env(extra)
    for name in PASS_THROUGH:
        if name.lower().endswith("_proxy"):
            env.pop(name, None)
    return env
