"""`git push` to SkyForge's smart HTTP remote with the real git client: deploys, refusals."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support import api_server, free_port, make_git_repo

from skyforge.config import Settings

TOKEN = "git-push-admin-token-0123456789ab"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real SkyForge API over HTTP (null runtime and edge: builds run, nothing is served)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("skyforge"),
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        api_port=free_port(),
        reconcile_interval=0.2,
    )
    with api_server(settings) as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        yield client


def git_env(cwd: Path) -> dict[str, str]:
    """Nothing of this machine's user setup for the git client (no credential helper)."""
    home = cwd.parent / "git-home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C",
    }


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real git client, with nothing of this machine's user setup (no credential helper)."""
    done = subprocess.run(
        ["git", "-C", str(cwd), *args],
        env=git_env(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}:\n{done.stdout}{done.stderr}")
    return done


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    for name, content in files.items():
        (repo / name).write_text(content)
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def project(api: httpx.Client, tmp_path: Path) -> str:
    """A project with a service `web` whose configured source is some other repository."""
    name = f"g-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/projects", json={"name": name}).status_code == 201
    other = make_git_repo(tmp_path / "configured", {"index.html": "<h1>configured</h1>\n"})
    made = api.post(
        f"/api/v1/projects/{name}/services",
        json={"name": "web", "source": {"git": str(other), "branch": "main"}},
    )
    assert made.status_code == 201, made.text
    return name


def remote(server: str, project: str, token: str = TOKEN) -> str:
    host = server.removeprefix("http://")
    return f"http://anyone:{token}@{host}/git/{project}/web.git"


def deploys(api: httpx.Client, project: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = api.get(
        f"/api/v1/projects/{project}/services/web/deploys"
    ).json()["items"]
    return found


def test_a_push_of_the_service_branch_deploys_that_commit_and_prints_the_output(
    server: str, api: httpx.Client, project: str, tmp_path: Path
) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>pushed</h1>\n"})
    head = git(repo, "rev-parse", "HEAD").stdout.strip()

    pushed = git(repo, "push", remote(server, project), "main")

    assert "remote: -----> Static app detected" in pushed.stderr, pushed.stderr
    assert f"remote: -----> Fetched commit {head[:12]}" in pushed.stderr
    assert f"remote: -----> Deployed to http://web.{project}.localhost:" in pushed.stderr
    assert "* [new branch]      main -> main" in pushed.stderr
    assert [(d["kind"], d["status"]) for d in deploys(api, project)] == [("build", "succeeded")]
    releases = api.get(f"/api/v1/projects/{project}/services/web/releases").json()["items"]
    assert releases[0]["description"] == f"Deploy of main {head[:12]}"
    # The service's configured source is left as it was.
    service = api.get(f"/api/v1/projects/{project}/services/web").json()
    assert service["source"]["git"].endswith("configured")


def test_a_push_whose_deploy_fails_is_rejected_and_the_branch_stays_where_it_was(
    server: str, api: httpx.Client, project: str, tmp_path: Path
) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>v1</h1>\n"})
    good = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "push", remote(server, project), "main")
    git(repo, "rm", "-q", "index.html")
    commit(repo, {"README": "nothing to run here\n"}, "break it")

    pushed = git(repo, "push", remote(server, project), "main", check=False)

    assert pushed.returncode != 0
    assert "remote:  !     Push rejected: the deploy failed" in pushed.stderr, pushed.stderr
    assert "no supported app detected" in pushed.stderr
    assert "! [remote rejected] main -> main (deploy failed)" in pushed.stderr
    refs = git(repo, "ls-remote", remote(server, project)).stdout
    assert f"{good}\trefs/heads/main" in refs
    assert [d["status"] for d in deploys(api, project)] == ["failed", "succeeded"]


def test_a_push_of_another_branch_is_only_stored(
    server: str, api: httpx.Client, project: str, tmp_path: Path
) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>wip</h1>\n"}, branch="feature")

    pushed = git(repo, "push", remote(server, project), "feature")

    assert "remote: SkyForge deploys main of web; feature is stored only" in pushed.stderr
    assert deploys(api, project) == []
    assert "refs/heads/feature" in git(repo, "ls-remote", remote(server, project)).stdout


def test_a_pushed_repository_can_be_cloned_back(server: str, project: str, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>round trip</h1>\n"})
    git(repo, "push", remote(server, project), "main")

    git(tmp_path, "clone", "-q", remote(server, project), "copy")

    assert (tmp_path / "copy" / "index.html").read_text() == "<h1>round trip</h1>\n"


def test_a_wrong_token_or_none_is_refused(server: str, project: str, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>x</h1>\n"})

    pushed = git(repo, "push", remote(server, project, "not-a-token"), "main", check=False)

    assert pushed.returncode != 0
    assert "Authentication failed" in pushed.stderr, pushed.stderr
    bare = httpx.get(f"{server}/git/{project}/web.git/info/refs?service=git-receive-pack")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Basic realm="SkyForge"'
    assert bare.headers["content-type"] == "application/problem+json"


def test_a_viewer_may_clone_but_not_push(
    server: str, api: httpx.Client, project: str, tmp_path: Path
) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>x</h1>\n"})
    git(repo, "push", remote(server, project), "main")
    token = _viewer_token(server, api, project)

    pushed = git(repo, "push", remote(server, project, token), "main:other", check=False)
    cloned = git(tmp_path, "clone", "-q", remote(server, project, token), "copy", check=False)

    assert pushed.returncode != 0
    assert "403" in pushed.stderr, pushed.stderr
    assert cloned.returncode == 0, cloned.stderr


def _viewer_token(server: str, api: httpx.Client, project: str) -> str:
    return _member_token(server, api, project, "viewer")[1]


def _member_token(server: str, api: httpx.Client, project: str, role: str) -> tuple[str, str]:
    """A new user with `role` in the project: (e-mail, access token)."""
    email = f"v-{uuid.uuid4().hex[:8]}@example.com"
    invited = api.post("/api/v1/invitations", json={"email": email, "org_role": "member"})
    body = {"invitation": invited.json()["token"], "email": email, "password": "pw-" + "x" * 20}
    assert httpx.post(f"{server}/api/v1/auth/signup", json={**body, "name": "V"}).is_success
    added = api.post(f"/api/v1/projects/{project}/members", json={"email": email, "role": role})
    assert added.status_code == 201, added.text
    login = httpx.post(
        f"{server}/api/v1/auth/login", json={"email": email, "password": body["password"]}
    )
    access: str = login.json()["access_token"]
    return email, access


def test_a_gzipped_fetch_request_is_understood(server: str, project: str, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>zip</h1>\n"})
    git(repo, "push", remote(server, project), "main")
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    want = f"want {sha} side-band-64k ofs-delta\n".encode()
    request = b"%04x" % (len(want) + 4) + want + b"0000" + b"0009done\n"

    answer = httpx.post(
        f"{server}/git/{project}/web.git/git-upload-pack",
        content=gzip.compress(request),
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        auth=("anyone", TOKEN),
    )

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in answer.content


def test_deleting_the_service_deletes_its_repository(
    server: str, api: httpx.Client, project: str, tmp_path: Path
) -> None:
    repo = make_git_repo(tmp_path / "app", {"index.html": "<h1>bye</h1>\n"})
    git(repo, "push", remote(server, project), "main:keep")

    assert api.delete(f"/api/v1/projects/{project}/services/web").status_code == 204
    again = {"name": "web", "source": {"git": str(repo), "branch": "main"}}
    assert api.post(f"/api/v1/projects/{project}/services", json=again).status_code == 201

    assert git(repo, "ls-remote", remote(server, project)).stdout == ""


TICKING_BUILD = {  # a Node app whose build prints a line every 0.1 s until it is cancelled
    "package.json": json.dumps(
        {
            "name": "ticking",
            "version": "1.0.0",
            "scripts": {
                "build": "node -e \"let i=0;setInterval(()=>console.log('tick '+i++),100)\"",
                "start": 'node -e ""',
            },
        }
    ),
}


def test_a_pusher_removed_from_the_project_sees_no_more_of_the_deploys_output(
    server: str, api: httpx.Client, project: str, tmp_path: Path
) -> None:
    email, token = _member_token(server, api, project, "developer")
    repo = make_git_repo(tmp_path / "app", TICKING_BUILD)
    push = subprocess.Popen(
        ["git", "-C", str(repo), "push", remote(server, project, token), "main"],
        env=git_env(repo),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        logs = wait_for_log_line(api, project, "tick 3")

        removed = api.delete(f"/api/v1/projects/{project}/members/{email}")
        assert removed.status_code == 204
        wait_for_log_line(api, project, "tick 80")  # seconds later, the build still prints
        api.post(f"{logs.removesuffix('/logs')}/cancel")
        _, stderr = push.communicate(timeout=60)
    finally:
        push.kill()

    assert "remote:  !     Output stopped: no project named" in stderr, stderr
    assert "remote: tick 3" in stderr
    assert "remote: tick 80" not in stderr  # shown to the admin's stream, not to the pusher
    assert "remote:  !     Push rejected: the deploy cancelled" in stderr
    assert push.returncode != 0


def wait_for_log_line(api: httpx.Client, project: str, line: str) -> str:
    """The log path of the project's deploy, once its output holds `line`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = deploys(api, project)
        if found:
            path = f"/api/v1/projects/{project}/services/web/deploys/{found[0]['id']}/logs"
            if line in api.get(path, params={"follow": "false"}).text.splitlines():
                return path
        time.sleep(0.1)
    raise AssertionError(f"no deploy printed {line!r}")
