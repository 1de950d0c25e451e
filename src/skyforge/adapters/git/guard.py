"""Where a git source may lead: the operator's network policy and local source directories.

A network source (http, https, ssh, git://) goes through the SSRF policy of every request
SkyForge makes for its users (adapters/netguard.py): when it is saved, by its text and its
addresses if the name resolves then, and again at every clone, where the clone is pinned to
the address that was checked (no second lookup can be steered elsewhere).

A local source (an absolute path or file://) is allowed under the directories the operator
lists, or to organization admins; the data dir never, for no one (it holds every tenant's
pushed code, the database and the keys), whatever symlinks lead there. The one exception
is a service's own push repository, which SkyForge itself clones for a `git push` deploy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from skyforge.adapters.netguard import (
    IPAddress,
    NetworkPolicy,
    Resolver,
    TargetRefused,
    host_allowed,
    is_literal,
    system_resolver,
)
from skyforge.kernel.errors import Forbidden, Invalid
from skyforge.services.source import Endpoint, endpoint, local_path


def _refuse(detail: str) -> Invalid:
    return Invalid(f"git source: {detail}")


@dataclass(frozen=True)
class Pinned:
    """A network source checked for a clone: connect to `address` only."""

    endpoint: Endpoint
    address: IPAddress


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class SourceGuard:
    """Implements the services context's SourceGuard; the fetcher asks it again per clone."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        data_dir: Path | None,
        local_dirs: Iterable[Path] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self.policy, self.resolver = policy, resolver
        self.data_dir = None if data_dir is None else _real(data_dir)
        self.local_dirs = tuple(_real(d) for d in local_dirs)

    # -- when a source is saved -----------------------------------------------------------

    async def check(self, url: str, org_admin: bool) -> None:
        """Raise Invalid (a refused address, the data dir) or Forbidden (a local path only
        an organization admin may use)."""
        path = local_path(url)
        if path is None:
            await self._addresses(endpoint(url), must_resolve=False)
            return
        real = self.local(path)
        if not org_admin and not any(_inside(real, d) for d in self.local_dirs):
            raise Forbidden(
                "git source: a local path is allowed only under the directories the operator "
                "lists (SKYFORGE_LOCAL_SOURCE_DIRS) or to organization admins; "
                "use a network URL or git push"
            )

    # -- when a source is cloned ----------------------------------------------------------

    async def pin(self, url: str) -> Pinned:
        """The checked address to clone a network source from; Invalid when refused or when
        the name does not resolve."""
        where = endpoint(url)
        addresses = await self._addresses(where, must_resolve=True)
        return Pinned(where, addresses[0])

    def local(self, path: str, own_repo: Path | None = None) -> Path:
        """The real path of a local source; Invalid when it or its git directory leads into
        the data dir (except into `own_repo`, a service's push repository)."""
        real = _real(path)
        own = None if own_repo is None else _real(own_repo)
        if self.data_dir is None:
            return real
        for found in _git_dirs(real):
            if _inside(found, self.data_dir) and not (own is not None and _inside(found, own)):
                raise _refuse("SkyForge's data dir is never a source (use git push to deploy)")
        return real

    async def _addresses(self, where: Endpoint, *, must_resolve: bool) -> list[IPAddress]:
        try:
            return await host_allowed(where.host, where.port, self.policy, self.resolver)
        except TargetRefused as exc:
            raise _refuse(exc.detail) from None
        except OSError:
            if must_resolve or is_literal(where.host):
                raise _refuse(f"the host name {where.host} does not resolve") from None
            return []  # a name that does not resolve yet: every clone checks again


def _git_dirs(path: Path) -> list[Path]:
    """The path and every directory git would read objects from when cloning it: its git
    directory (a `.git` file or symlink may point elsewhere), the common directory of a
    worktree, the object store and its alternates."""
    found = [path]
    dotgit = path / ".git"
    gitdir = path
    if dotgit.is_file():
        text = _read(dotgit)
        if text.startswith("gitdir:"):
            gitdir = _real(path / text.removeprefix("gitdir:").strip())
    elif dotgit.exists():
        gitdir = _real(dotgit)
    found.append(gitdir)
    common = gitdir / "commondir"
    if common.is_file():
        found.append(_real(gitdir / _read(common).strip()))
    for d in list(found[1:]):
        objects = _real(d / "objects")
        found.append(objects)
        for name in ("alternates", "http-alternates"):
            if (objects / "info" / name).exists():
                raise _refuse("a local repository that borrows objects (alternates) is refused")
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[:4096]
    except OSError:
        return ""
