"""Where a clone may go: GitFetcher against real git servers on loopback addresses.

127.0.0.2 plays a remote the operator allowed (SKYFORGE_WEBHOOK_ALLOWED_NETWORKS), 127.0.0.1
the control plane's own host, which no source may reach.
"""

from __future__ import annotations

import functools
import ipaddress
import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.integration.git_http_server import GitServer, git_server
from tests.support import make_git_repo

from skyforge.adapters.git.fetcher import GitFetcher
from skyforge.adapters.git.guard import SourceGuard
from skyforge.adapters.netguard import IPAddress, NetworkPolicy, Resolver
from skyforge.kernel.errors import StepFailed

REMOTE = "127.0.0.2"
ALLOWED = NetworkPolicy.of(networks=[f"{REMOTE}/32"])


def resolving(answers: dict[str, str]) -> Resolver:
    """A DNS resolver answering `answers` (what an attacker's name server would say)."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(answers.get(host, host))]
        except ValueError:
            raise OSError(f"{host} does not resolve") from None

    return resolve


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "app", {"index.html": "<h1>remote</h1>\n"})


@pytest.fixture
def remote(tmp_path: Path, app_repo: Path) -> Iterator[GitServer]:
    with git_server(tmp_path / "remote", REMOTE) as server:
        server.add("app.git", app_repo)
        yield server


@pytest.fixture
def internal(tmp_path: Path, app_repo: Path) -> Iterator[GitServer]:
    """A git server on 127.0.0.1: what an attacker would like the control plane to fetch."""
    with git_server(tmp_path / "internal", "127.0.0.1") as server:
        server.add("app.git", app_repo)
        yield server


def fetcher(tmp_path: Path, resolver: Resolver | None = None, **options: object) -> GitFetcher:
    """A fetcher guarded as SkyForge's: 127.0.0.2 allowed, a data dir at tmp_path/data;
    names resolve only through `resolver` (an address resolves to itself)."""
    guard = SourceGuard(ALLOWED, data_dir=tmp_path / "data", resolver=resolver or resolving({}))
    return GitFetcher(guard, **options)  # type: ignore[arg-type]


async def test_a_remote_on_an_allowed_network_is_cloned(remote: GitServer, tmp_path: Path) -> None:
    await fetcher(tmp_path).fetch(f"{remote.url}/app.git", "main", tmp_path / "out", print)
    assert (tmp_path / "out" / "index.html").read_text() == "<h1>remote</h1>\n"


async def test_a_source_on_the_control_planes_host_is_never_contacted(
    internal: GitServer, tmp_path: Path
) -> None:
    lines: list[str] = []
    with pytest.raises(StepFailed, match="loopback"):
        await fetcher(tmp_path).fetch(
            f"{internal.url}/app.git", "main", tmp_path / "out", lines.append
        )
    assert internal.seen == []
    assert not (tmp_path / "out").exists()


async def test_a_redirect_to_the_control_planes_host_is_not_followed(
    internal: GitServer, tmp_path: Path
) -> None:
    with git_server(tmp_path / "empty", REMOTE, redirect_to=internal.url) as redirector:
        with pytest.raises(StepFailed, match="follows no redirect of a git source"):
            await fetcher(tmp_path).fetch(
                f"{redirector.url}/app.git", "main", tmp_path / "out", print
            )
        assert redirector.seen  # git asked the allowed server...
    assert internal.seen == []  # ...and never went where it pointed


@pytest.fixture
def dumb_server(tmp_path: Path) -> Iterator[str]:
    """A plain file server on 127.0.0.2 (git's "dumb" HTTP protocol) of tmp_path/dumb."""
    root = tmp_path / "dumb"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer((REMOTE, 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://{REMOTE}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_repository_cannot_send_the_clone_to_the_control_planes_host_by_alternates(
    internal: GitServer, dumb_server: str, tmp_path: Path
) -> None:
    # A repository with refs but no objects, whose http-alternates say the objects are on
    # 127.0.0.1: the clone must not go there to look (git treats alternates as redirects, and
    # refuses the dumb protocol for a shallow clone besides).
    bare = tmp_path / "dumb" / "app.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(internal.root / "app.git"), str(bare)], check=True
    )
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    for pack in (bare / "objects" / "pack").iterdir():
        pack.unlink()
    (bare / "objects" / "info" / "packs").write_text("")
    (bare / "objects" / "info" / "http-alternates").write_text(f"{internal.url}/app.git/objects\n")
    with pytest.raises(StepFailed):
        await fetcher(tmp_path).fetch(f"{dumb_server}/app.git", "main", tmp_path / "out", print)
    assert internal.seen == []


async def test_the_clone_connects_to_the_address_that_was_checked(
    remote: GitServer, tmp_path: Path
) -> None:
    # git.test resolves nowhere but in the guard's resolver: the clone working shows that
    # git connected to the checked address instead of looking the name up again.
    port = remote.url.rsplit(":", 1)[1]
    fetch = fetcher(tmp_path, resolver=resolving({"git.test": REMOTE}))
    await fetch.fetch(f"http://git.test:{port}/app.git", "main", tmp_path / "out", print)
    assert (tmp_path / "out" / "index.html").is_file()


@pytest.mark.parametrize("by_name", [True, False], ids=["name", "address"])
async def test_a_remote_on_an_allowed_ipv6_address_is_cloned(
    by_name: bool, app_repo: Path, tmp_path: Path
) -> None:
    with git_server(tmp_path / "v6", "::1") as server:
        url = server.add("app.git", app_repo)
        if by_name:
            url = url.replace("[::1]", "git6.test")
        guard = SourceGuard(
            NetworkPolicy.of(networks=["::1/128"]),
            data_dir=tmp_path / "data",
            resolver=resolving({"git6.test": "::1"}),
        )
        await GitFetcher(guard).fetch(url, "main", tmp_path / "out", print)
    assert (tmp_path / "out" / "index.html").is_file()
    assert server.seen


async def test_a_name_that_now_resolves_to_the_control_planes_host_is_refused(
    internal: GitServer, tmp_path: Path
) -> None:
    port = internal.url.rsplit(":", 1)[1]
    fetch = fetcher(tmp_path, resolver=resolving({"git.test": "127.0.0.1"}))
    with pytest.raises(StepFailed, match="resolves to a loopback address"):
        await fetch.fetch(f"http://git.test:{port}/app.git", "main", tmp_path / "out", print)
    assert internal.seen == []


class Listener:
    """A TCP server that records the first line of each connection, then hangs up."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.got: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:  # the first line (ssh's banner, git's request ends with a NUL)
                    while not (b"\n" in data or b"\0" in data):
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                self.got.append(data)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("scheme", ["ssh", "git"])
async def test_ssh_and_git_protocol_clones_connect_to_the_checked_address(
    scheme: str, tmp_path: Path
) -> None:
    listener = Listener(REMOTE)
    try:
        fetch = fetcher(tmp_path, resolver=resolving({"git.test": REMOTE}))
        url = f"{scheme}://git@git.test:{listener.port}/app.git".replace("git://git@", "git://")
        with pytest.raises(StepFailed):
            await fetch.fetch(url, "main", tmp_path / "out", print)
    finally:
        listener.close()
    assert len(listener.got) == 1  # the one connection went to the checked address
    if scheme == "git":
        assert b"git-upload-pack /app.git" in listener.got[0]
    else:
        assert listener.got[0].startswith(b"SSH-2.0-")


def recording_git(tmp_path: Path) -> tuple[Path, Path]:
    """A git that records its command lines, and after the clone its `.git/config` and the
    object files it shares with another path (hard links), before running the real git."""
    record = tmp_path / "git-record"
    wrapper = tmp_path / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'echo "argv: $*" >> {shlex.quote(str(record))}\n'
        'if [ "$1" = rev-parse ]; then\n'
        f"  cat .git/config >> {shlex.quote(str(record))}\n"
        f"  find .git -type f -links +1 | sed 's/^/linked: /' >> {shlex.quote(str(record))}\n"
        "fi\n"
        'exec /usr/bin/git "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, record


async def test_credentials_reach_the_server_and_no_command_line_config_or_log(
    tmp_path: Path, app_repo: Path
) -> None:
    with git_server(tmp_path / "private", REMOTE, credentials=("alice", "s3cr3t/tok")) as remote:
        url = remote.add("app.git", app_repo)
        wrapper, record = recording_git(tmp_path)
        lines: list[str] = []
        fetch = fetcher(tmp_path, credentials="alice:s3cr3t%2Ftok", git=str(wrapper))
        await fetch.fetch(url, "main", tmp_path / "out", lines.append)
    assert (tmp_path / "out" / "index.html").is_file()
    assert "Basic YWxpY2U6czNjcjN0L3Rvaw==" in remote.authorizations  # alice:s3cr3t/tok
    assert f"-----> Fetching http://***@{url.removeprefix('http://')} (branch main)" in lines
    recorded = record.read_text()
    assert "argv: " in recorded and "[remote " in recorded
    for text in (recorded, "\n".join(lines)):
        assert "s3cr3t" not in text


async def test_without_credentials_a_private_remote_refuses_the_clone(
    tmp_path: Path, app_repo: Path
) -> None:
    with git_server(tmp_path / "private", REMOTE, credentials=("alice", "pw")) as remote:
        url = remote.add("app.git", app_repo)
        with pytest.raises(StepFailed, match="git clone failed"):
            await fetcher(tmp_path).fetch(url, "main", tmp_path / "out", print)


async def test_a_local_clone_shares_no_files_with_its_source(
    tmp_path: Path, app_repo: Path
) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(app_repo), str(bare)], check=True)
    wrapper, record = recording_git(tmp_path)
    await fetcher(tmp_path, git=str(wrapper)).fetch(str(bare), "main", tmp_path / "out", print)
    assert "linked: " not in record.read_text()


def pushed_repo(data_dir: Path) -> Path:
    """Another team's pushed code, where SkyForge keeps it: <data dir>/git/alpha/web.git."""
    work = make_git_repo(data_dir.parent / "alpha-work", {"index.html": "alpha's code\n"})
    bare = data_dir / "git" / "alpha" / "web.git"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def symlink_to(target: Path, link: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def gitfile_to(target: Path, work: Path) -> Path:
    work.mkdir(parents=True)
    (work / ".git").write_text(f"gitdir: {target}\n")
    return work


def borrowing(target: Path, repo: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    (repo / "objects" / "info" / "alternates").write_text(f"{target / 'objects'}\n")
    return repo


@pytest.mark.parametrize(
    "source",
    [
        lambda bare, tmp: str(bare),
        lambda bare, tmp: f"file://{bare}",
        lambda bare, tmp: str(tmp / "data" / "git" / ".." / "git" / "alpha" / "web.git"),
        lambda bare, tmp: str(symlink_to(bare, tmp / "shared" / "innocent.git")),
        lambda bare, tmp: str(symlink_to(tmp / "data", tmp / "shared" / "d") / "git/alpha/web.git"),
        lambda bare, tmp: str(gitfile_to(bare, tmp / "shared" / "checkout")),
        lambda bare, tmp: str(borrowing(bare, tmp / "shared" / "borrow.git")),
    ],
    ids=["path", "file-url", "dot-dot", "symlink", "symlinked-dir", "gitfile", "alternates"],
)
async def test_another_teams_pushed_code_in_the_data_dir_is_never_cloned(
    source: object, tmp_path: Path
) -> None:
    bare = pushed_repo(tmp_path / "data")
    url = source(bare, tmp_path)  # type: ignore[operator]
    with pytest.raises(StepFailed, match=r"data dir|borrows objects"):
        await fetcher(tmp_path).fetch(url, "main", tmp_path / "out", print)
    assert not (tmp_path / "out").exists()


async def test_a_services_own_push_repository_is_cloned(tmp_path: Path) -> None:
    bare = pushed_repo(tmp_path / "data")
    commit = subprocess.run(
        ["git", "-C", str(bare), "rev-parse", "main"], check=True, capture_output=True, text=True
    ).stdout.strip()
    fetch = fetcher(tmp_path, own_repo=bare)
    assert await fetch.fetch(str(bare), "main", tmp_path / "out", print, commit) == commit
    assert (tmp_path / "out" / "index.html").read_text() == "alpha's code\n"
    # Its own repository only: another service's is still refused.
    other = fetcher(tmp_path, own_repo=tmp_path / "data" / "git" / "beta" / "web.git")
    with pytest.raises(StepFailed, match="data dir"):
        await other.fetch(str(bare), "main", tmp_path / "again", print)
