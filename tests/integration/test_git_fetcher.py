"""GitFetcher against real local repositories (working trees and bare)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from skyforge.adapters.git.fetcher import GitFetcher
from skyforge.adapters.git.guard import SourceGuard
from skyforge.adapters.netguard import NetworkPolicy
from skyforge.kernel.errors import StepFailed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GIT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def fetcher(tmp_path: Path, **options: object) -> GitFetcher:
    """A fetcher guarded as SkyForge's: public addresses only, a data dir of its own."""
    guard = SourceGuard(NetworkPolicy(), data_dir=tmp_path / "data")
    return GitFetcher(guard, **options)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """examples/static committed twice on main, with a second branch."""
    path = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "static", path)
    git("init", "-q", "-b", "main", cwd=path)
    for message in ("first", "second"):
        (path / "version.txt").write_text(message)
        git("add", "-A", cwd=path)
        git(
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.test",
            "commit",
            "-qm",
            message,
            cwd=path,
        )
    git("branch", "feature/x", "HEAD~1", cwd=path)
    return path


async def test_a_branch_is_cloned_without_its_git_history(repo: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    commit = await fetcher(tmp_path).fetch(str(repo), "main", tmp_path / "out", lines.append)
    assert commit == git("rev-parse", "HEAD", cwd=repo)
    assert (tmp_path / "out" / "version.txt").read_text() == "second"
    assert (tmp_path / "out" / "index.html").is_file()
    assert not (tmp_path / "out" / ".git").exists()
    assert lines[0] == f"-----> Fetching {repo} (branch main)"
    assert lines[-1] == f"-----> Fetched commit {commit[:12]}"


async def test_another_branch_gives_its_own_commit(repo: Path, tmp_path: Path) -> None:
    commit = await fetcher(tmp_path).fetch(str(repo), "feature/x", tmp_path / "out", print)
    assert commit == git("rev-parse", "feature/x", cwd=repo)
    assert (tmp_path / "out" / "version.txt").read_text() == "first"


async def test_a_local_bare_repository_can_be_fetched(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git("clone", "-q", "--bare", str(repo), str(bare), cwd=tmp_path)
    commit = await fetcher(tmp_path).fetch(str(bare), "main", tmp_path / "out", print)
    assert commit == git("rev-parse", "main", cwd=repo)
    assert (tmp_path / "out" / "index.html").is_file()


async def test_a_file_url_is_cloned_shallow(repo: Path, tmp_path: Path) -> None:
    commit = await fetcher(tmp_path).fetch(f"file://{repo}", "main", tmp_path / "out", print)
    assert commit == git("rev-parse", "HEAD", cwd=repo)


async def test_cloning_a_path_that_does_not_exist_fails(tmp_path: Path) -> None:
    lines: list[str] = []
    with pytest.raises(StepFailed, match=r"^git clone failed: .*does not exist"):
        await fetcher(tmp_path).fetch(
            str(tmp_path / "nope"), "main", tmp_path / "out", lines.append
        )
    assert lines[-1].startswith(" !     git clone failed: ")


async def test_cloning_a_branch_that_does_not_exist_fails(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match=r"git clone failed: .*not found"):
        await fetcher(tmp_path).fetch(str(repo), "nope", tmp_path / "out", lambda _: None)


async def test_credentials_in_a_url_never_reach_the_log_or_the_error(tmp_path: Path) -> None:
    lines: list[str] = []
    url = "http://alice:s3cr3t-pw@127.0.0.1:1/shop.git"  # port 1: refused at once
    with pytest.raises(StepFailed) as failure:
        guard = SourceGuard(NetworkPolicy.of(networks=["127.0.0.1/32"]), data_dir=None)
        await GitFetcher(guard, timeout=30).fetch(url, "main", tmp_path / "out", lines.append)
    assert failure.value.detail.startswith("git clone failed: ")
    assert "s3cr3t" not in failure.value.detail
    assert "s3cr3t" not in "\n".join(lines)
    assert "-----> Fetching http://***@127.0.0.1:1/shop.git (branch main)" in lines


@pytest.mark.parametrize(
    ("url", "branch"),
    [
        ("--upload-pack=touch /tmp/x", "main"),
        ("-oProxyCommand=touch /tmp/x", "main"),
        ("ext::sh -c touch% /tmp/x", "main"),
        ("/srv/repo", "-f"),
        ("/srv/repo", "a b"),
        ("/srv/repo\n--upload-pack=x", "main"),
    ],
)
async def test_a_hostile_source_is_refused_before_any_git_process_runs(
    url: str, branch: str, tmp_path: Path
) -> None:
    marker = tmp_path / "git-ran"
    fake_git = tmp_path / "fake-git"
    fake_git.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(marker))}\n")
    fake_git.chmod(0o755)
    with pytest.raises(StepFailed, match="git source:"):
        await fetcher(tmp_path, git=str(fake_git)).fetch(
            url, branch, tmp_path / "out", lambda _: None
        )
    assert not marker.exists()
