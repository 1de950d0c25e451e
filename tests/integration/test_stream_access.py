"""Open streams end soon after their caller loses access; a still-allowed stream goes on.

A real API (uvicorn, the local runtime): a ticking app's logs as text and as SSE, and the log of
a deploy whose release phase prints for minutes, each read by a member of the project while an
admin's stream of the same app's logs keeps flowing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.support import (
    api_server,
    eventually,
    local_api_settings,
    make_git_repo,
    ticking_app,
)

TOKEN = "stream-access-admin-token-0123456789"
PASSWORD = "correct horse battery staple"
SHOP = "/api/v1/projects/shop"
LOGS = f"{SHOP}/services/web/logs"
SLOW_RELEASE = {  # a release phase that prints for minutes (the tests cancel it)
    "Procfile": "release: python3 release.py\nweb: python3 app.py $PORT\n",
    "release.py": "import time\nfor i in range(3000):\n    print('release', i, flush=True)\n"
    "    time.sleep(0.1)\n",
}
SKYFORGE = Path(sys.executable).parent / "skyforge"
ENDS_WITHIN = 15.0  # a bound for the test run, far above the re-check interval


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API with shop/web (a ticking app) deployed, and shop/slow (a long release phase)."""
    root = tmp_path_factory.mktemp("streams")
    web = make_git_repo(root / "web", ticking_app(0.1))
    slow = make_git_repo(root / "slow", {**ticking_app(1.0), **SLOW_RELEASE})
    settings = local_api_settings(root / "data", TOKEN, stream_recheck_seconds=0.5)
    with api_server(settings) as base, httpx.Client(base_url=base, headers=bearer(TOKEN)) as api:
        assert api.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        for name, repo in (("web", web), ("slow", slow)):
            created = api.post(
                f"{SHOP}/services", json={"name": name, "source": {"git": str(repo)}}
            )
            assert created.status_code == 201, created.text
        deploy = api.post(f"{SHOP}/services/web/deploys").json()
        deadline = time.monotonic() + 60
        while deploy["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            deploy = api.get(f"{SHOP}/services/web/deploys/{deploy['id']}").json()
        assert deploy["status"] == "succeeded", deploy
        yield base


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Stream:
    """A response read in a task of its own: its lines so far, and whether it has ended."""

    client: httpx.AsyncClient
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, object] | None = None  # given: a POST with this JSON body
    lines: list[str] = field(default_factory=list)
    status: int | None = None
    error: httpx.HTTPError | None = None  # the response was cut instead of ended
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        try:
            async with self.client.stream(
                "GET" if self.body is None else "POST",
                self.path,
                headers=self.headers,
                params=self.params,
                json=self.body,
            ) as response:
                self.status = response.status_code
                async for line in response.aiter_lines():
                    self.lines.append(line)
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.ended.set()

    def content(self) -> list[str]:
        """The lines that carry output (no SSE comments, ids or blank separators)."""
        return [
            line
            for line in self.lines
            if line and not line.startswith((":", "id:", "retry:", "event:"))
        ]

    def last_event(self) -> tuple[str, dict[str, object]]:
        """The name and data of the last SSE event."""
        names = [i for i, line in enumerate(self.lines) if line.startswith("event: ")]
        start = names[-1]
        data = self.lines[start + 1].removeprefix("data: ")
        return self.lines[start].removeprefix("event: "), json.loads(data)


@dataclass
class Member:
    email: str
    access_token: str
    refresh_token: str


@pytest.fixture
async def clients(url: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()


@pytest.fixture
async def admin(url: str, clients: list[httpx.AsyncClient]) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, headers=bearer(TOKEN), timeout=ENDS_WITHIN)
    clients.append(client)
    return client


async def developer(admin: httpx.AsyncClient, email: str) -> Member:
    """A new user, signed up, logged in and a developer of shop."""
    invited = await admin.post("/api/v1/invitations", json={"email": email, "org_role": "member"})
    assert invited.status_code == 201, invited.text
    anonymous = {"Authorization": ""}
    signup = {"invitation": invited.json()["token"], "email": email, "password": PASSWORD}
    done = await admin.post(
        "/api/v1/auth/signup", json={**signup, "name": "dev"}, headers=anonymous
    )
    assert done.status_code == 201, done.text
    added = await admin.post(f"{SHOP}/members", json={"email": email, "role": "developer"})
    assert added.status_code == 201, added.text
    login = await admin.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=anonymous
    )
    assert login.status_code == 200, login.text
    session = login.json()
    return Member(email, session["access_token"], session["refresh_token"])


async def personal_token(admin: httpx.AsyncClient, member: Member) -> tuple[str, str]:
    """(id, secret) of a new read-scoped personal token of the member."""
    made = await admin.post(
        "/api/v1/tokens",
        json={"name": "streams", "scope": "read"},
        headers=bearer(member.access_token),
    )
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["token"]


async def slow_deploy(admin: httpx.AsyncClient) -> str:
    """A deploy of shop/slow, its release phase printing; its id (cancelled by the caller)."""
    deploy = await admin.post(f"{SHOP}/services/slow/deploys")
    assert deploy.status_code == 202, deploy.text
    return str(deploy.json()["id"])


@dataclass
class Opened:
    text: Stream
    sse: Stream
    deploy_log: Stream
    control: Stream
    tasks: list[asyncio.Task[None]]

    @property
    def revocable(self) -> list[Stream]:
        return [self.text, self.sse, self.deploy_log]


async def open_streams(
    url: str, clients: list[httpx.AsyncClient], admin: httpx.AsyncClient, token: str, deploy: str
) -> Opened:
    """The three streams read with `token`, and the admin's own, each flowing."""
    mine = httpx.AsyncClient(base_url=url, headers=bearer(token), timeout=ENDS_WITHIN)
    clients.append(mine)
    follow = {"follow": "true", "tail": "0"}
    opened = Opened(
        text=Stream(mine, LOGS, params=follow),
        sse=Stream(mine, LOGS, headers={"Accept": "text/event-stream"}, params=follow),
        deploy_log=Stream(mine, f"{SHOP}/services/slow/deploys/{deploy}/logs"),
        control=Stream(admin, LOGS, headers={"Accept": "text/event-stream"}, params=follow),
        tasks=[],
    )
    streams = [*opened.revocable, opened.control]
    opened.tasks = [asyncio.create_task(stream.read()) for stream in streams]
    for stream in streams:
        await eventually(lambda s=stream: len(s.content()) >= 2, timeout=60)  # type: ignore[misc]
        assert stream.status == 200
    return opened


async def assert_all_end_but_the_control(opened: Opened, status: int) -> None:
    for stream in opened.revocable:
        await asyncio.wait_for(stream.ended.wait(), ENDS_WITHIN)
        assert stream.error is None  # ended as a response ends, not cut
    name, data = opened.sse.last_event()
    assert (name, data["status"]) == ("error", status)
    # The admin's stream of the same app's output is still flowing: the app did not stop.
    assert not opened.control.ended.is_set()
    seen = len(opened.control.content())
    await eventually(lambda: len(opened.control.content()) > seen + 3)
    assert not opened.control.ended.is_set()


async def finish(admin: httpx.AsyncClient, opened: Opened, deploy: str) -> None:
    running = (await admin.get(f"{SHOP}/services/slow/deploys/{deploy}")).json()
    # The member's deploy log ended while the deploy was still running.
    assert running["status"] in ("building", "deploying"), running
    await admin.post(f"{SHOP}/services/slow/deploys/{deploy}/cancel")
    for task in opened.tasks:
        task.cancel()
    await asyncio.gather(*opened.tasks, return_exceptions=True)


async def test_streams_read_with_a_revoked_personal_token_end(
    url: str, clients: list[httpx.AsyncClient], admin: httpx.AsyncClient
) -> None:
    member = await developer(admin, "revoked@example.com")
    token_id, token = await personal_token(admin, member)
    deploy = await slow_deploy(admin)
    opened = await open_streams(url, clients, admin, token, deploy)

    revoked = await admin.delete(f"/api/v1/tokens/{token_id}", headers=bearer(member.access_token))
    assert revoked.status_code == 204

    await assert_all_end_but_the_control(opened, 401)
    await finish(admin, opened, deploy)


async def test_streams_of_a_logged_out_session_end(
    url: str, clients: list[httpx.AsyncClient], admin: httpx.AsyncClient
) -> None:
    member = await developer(admin, "logged-out@example.com")
    deploy = await slow_deploy(admin)
    opened = await open_streams(url, clients, admin, member.access_token, deploy)

    out = await admin.post(
        "/api/v1/auth/logout",
        json={"refresh_token": member.refresh_token},
        headers={"Authorization": ""},
    )
    assert out.status_code == 204

    await assert_all_end_but_the_control(opened, 401)
    await finish(admin, opened, deploy)


async def test_streams_of_a_member_removed_from_the_project_end(
    url: str, clients: list[httpx.AsyncClient], admin: httpx.AsyncClient
) -> None:
    member = await developer(admin, "removed@example.com")
    _, token = await personal_token(admin, member)
    deploy = await slow_deploy(admin)
    opened = await open_streams(url, clients, admin, token, deploy)

    removed = await admin.delete(f"{SHOP}/members/{member.email}")
    assert removed.status_code == 204, removed.text

    await assert_all_end_but_the_control(opened, 404)  # as if the project did not exist
    await finish(admin, opened, deploy)


async def test_the_cli_stops_following_once_its_token_is_revoked(
    url: str, admin: httpx.AsyncClient
) -> None:
    member = await developer(admin, "cli@example.com")
    token_id, token = await personal_token(admin, member)
    env = {**os.environ, "SKYFORGE_URL": url, "SKYFORGE_TOKEN": token}
    cli = await asyncio.create_subprocess_exec(
        str(SKYFORGE), "logs", "web", "-p", "shop", "-f", "--tail", "0",
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert cli.stdout is not None
        first = await asyncio.wait_for(cli.stdout.readline(), 60)
        assert b"tick" in first

        await admin.delete(f"/api/v1/tokens/{token_id}", headers=bearer(member.access_token))
        _, stderr = await asyncio.wait_for(cli.communicate(), ENDS_WITHIN)
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()

    assert cli.returncode == 1
    assert b"Error: the log stream ended: " in stderr, stderr
    assert b"reconnecting" not in stderr


def running_with(marker: str) -> list[int]:
    """The pids of processes whose command line holds `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


async def test_a_run_of_a_member_removed_from_the_project_ends_and_is_killed(
    url: str, clients: list[httpx.AsyncClient], admin: httpx.AsyncClient
) -> None:
    member = await developer(admin, "runner@example.com")
    mine = httpx.AsyncClient(base_url=url, headers=bearer(member.access_token), timeout=30)
    clients.append(mine)
    marker = f"run-{time.monotonic_ns()}"
    code = (
        "import itertools, time\n"
        f"for i in itertools.count(): print({marker!r}, i, flush=True); time.sleep(0.1)"
    )
    command = shlex.join(["python3", "-c", code])
    run = Stream(mine, f"{SHOP}/services/web/runs", body={"command": command})
    task = asyncio.create_task(run.read())
    try:
        await eventually(lambda: len(run.lines) >= 2, timeout=60)
        assert run.status == 200 and running_with(marker)

        removed = await admin.delete(f"{SHOP}/members/{member.email}")
        assert removed.status_code == 204, removed.text

        await asyncio.wait_for(run.ended.wait(), ENDS_WITHIN)
        assert run.error is None and not run.lines[-1].startswith("skyforge-exit-status")
        await eventually(lambda: not running_with(marker), timeout=ENDS_WITHIN)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
