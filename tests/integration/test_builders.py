"""Fetch each example with GitFetcher, build it with StackBuilder, and run the artifact."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tests.support import make_git_repo

from skyforge.adapters.builders import static_server
from skyforge.adapters.builders.detect import scan
from skyforge.adapters.builders.stack import StackBuilder
from skyforge.adapters.git.fetcher import GitFetcher
from skyforge.adapters.git.guard import SourceGuard
from skyforge.adapters.netguard import NetworkPolicy
from skyforge.adapters.sandbox import sandbox_of
from skyforge.builds.ports import BuildResult
from skyforge.kernel.errors import StepFailed
from skyforge.kernel.limits import Limits

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GIT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


def git_repo(source: Path, dest: Path) -> Path:
    """Copy a directory to dest and commit it on branch main."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("node_modules", ".venv"))
    for command in (
        "git init -q -b main",
        "git add -A",
        "git -c user.name=t -c user.email=t@example.test commit -q -m init",
    ):
        subprocess.run(shlex.split(command), cwd=dest, env=GIT_ENV, check=True)
    return dest


@pytest.fixture
def example_repo(tmp_path: Path) -> Callable[[str], Path]:
    """Turn examples/<name> into a git repository in tmp_path."""
    return lambda name: git_repo(EXAMPLES / name, tmp_path / "repos" / name)


async def fetch_and_build(
    repo: Path, tmp_path: Path, lines: list[str], cache: Path | None = None
) -> tuple[Path, BuildResult]:
    app_dir = tmp_path / "apps" / f"{repo.name}-{len(list(tmp_path.glob('apps/*')))}"
    guard = SourceGuard(NetworkPolicy(), data_dir=tmp_path / "data")  # as SkyForge's
    await GitFetcher(guard).fetch(str(repo), "main", app_dir, lines.append)
    # In the sandbox, as SkyForge builds: the install steps run the repository's code.
    jail = sandbox_of(tmp_path / "data").jail(f"builds.{repo.name}", Limits())
    result = await StackBuilder(timeout=300, jail=jail).build(
        app_dir, cache or tmp_path / "cache" / repo.name, lines.append
    )
    return app_dir, result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def running(
    command: str, result: BuildResult, app_dir: Path, **env: str
) -> AsyncIterator[str]:
    """Start a built process the way a runtime would; yield its base URL; stop it."""
    port = free_port()
    argv = shlex.split(command.replace("$PORT", str(port)))
    output = app_dir.parent / f"{app_dir.name}.out"
    with output.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=app_dir,
            env={**result.env, "PORT": str(port), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(150):
                assert proc.poll() is None, output.read_text()
                try:
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"{command} did not answer: {output.read_text()}")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.parametrize(
    ("example", "stack", "kind"),
    [
        ("python-plain", "python", "python-plain"),
        ("python-flask", "python", "python-flask"),
        ("node", "node", "node"),
        ("static", "static", "static"),
    ],
)
async def test_every_example_is_fetched_built_and_answers_on_its_port(
    example: str, stack: str, kind: str, example_repo: Callable[[str], Path], tmp_path: Path
) -> None:
    lines: list[str] = []
    app_dir, result = await fetch_and_build(example_repo(example), tmp_path, lines)
    assert result.stack == stack
    assert "-----> Build succeeded" in lines[-1]
    async with (
        running(result.process_types["web"], result, app_dir, GREETING="bonjour") as url,
        httpx.AsyncClient() as client,
    ):
        page = await client.get(f"{url}/")
        health = await client.get(f"{url}/health")
    assert page.status_code == 200
    assert f"kind: {kind}" in page.text
    assert ("hello" if stack == "static" else "bonjour") in page.text
    assert (health.status_code, health.text) == (200, "ok")


async def test_a_python_app_with_requirements_gets_a_venv(
    example_repo: Callable[[str], Path], tmp_path: Path
) -> None:
    lines: list[str] = []
    app_dir, result = await fetch_and_build(example_repo("python-flask"), tmp_path, lines)
    venv = app_dir / ".venv"
    assert (venv / "bin" / "gunicorn").is_file()
    assert result.env["VIRTUAL_ENV"] == str(venv)
    assert result.env["PATH"].startswith(f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin")
    assert "-----> Python app detected" in lines
    assert "-----> Installing dependencies with uv from requirements.txt" in lines
    release = subprocess.run(
        shlex.split(result.process_types["release"]),
        cwd=app_dir,
        env=result.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert release.stdout.strip() == "release phase ran"


async def test_a_second_build_with_the_same_cache_works(
    example_repo: Callable[[str], Path], tmp_path: Path
) -> None:
    repo, cache = example_repo("python-flask"), tmp_path / "cache" / "shared"
    times = []
    for _ in range(2):
        started = time.monotonic()
        app_dir, _ = await fetch_and_build(repo, tmp_path, [], cache)
        times.append(time.monotonic() - started)
        assert (app_dir / ".venv" / "bin" / "gunicorn").is_file()
    assert (cache / "uv").is_dir()
    print(f"python-flask: first build {times[0]:.2f} s, cached build {times[1]:.2f} s")


async def test_a_package_that_does_not_exist_fails_the_build_with_the_reason_in_the_log(
    tmp_path: Path,
) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "requirements.txt").write_text("skyforge-no-such-package-xyz==1.0\n")
    (app_dir / "app.py").write_text("print('hi')\n")
    lines: list[str] = []
    with pytest.raises(StepFailed, match=r"pip install failed: .*skyforge-no-such-package-xyz"):
        await StackBuilder().build(app_dir, tmp_path / "cache", lines.append)
    assert any(line.startswith(" !     pip install failed") for line in lines)
    assert not any("Build succeeded" in line for line in lines)


async def test_the_build_environment_holds_no_control_plane_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYFORGE_ADMIN_TOKEN", "super-secret-admin-token-0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret")
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "package.json").write_text('{"scripts": {"build": "env", "start": "node s.js"}}')
    lines: list[str] = []
    await StackBuilder().build(app_dir, tmp_path / "cache", lines.append)
    log = "\n".join(lines)
    assert "-----> Running npm run build" in log
    assert f"HOME={tmp_path / 'cache' / 'home'}" in log
    assert "secret" not in log
    assert "SKYFORGE_" not in log


async def test_a_node_app_without_anything_to_start_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "x"}')
    with pytest.raises(StepFailed, match='add a "start" script'):
        await StackBuilder().build(tmp_path, tmp_path / "cache", lambda _: None)


async def test_a_python_app_without_a_web_process_fails_clearly(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "requirements.txt").write_text("")
    (app_dir / "worker.py").write_text("print('working')\n")
    lines: list[str] = []
    with pytest.raises(StepFailed, match="no web process: add a Procfile"):
        await StackBuilder().build(app_dir, tmp_path / "cache", lines.append)
    assert lines[-1] == " !     no web process: add a Procfile"


async def test_a_procfile_alone_is_used_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: ./serve $PORT\nworker: ./work\n")
    result = await StackBuilder().build(tmp_path, tmp_path / "cache", lambda _: None)
    assert result == BuildResult(
        "procfile",
        {"web": "./serve $PORT", "worker": "./work"},
        {"PATH": result.env["PATH"]},
    )
    assert result.env["PATH"].startswith("/usr/local/bin:/usr/bin:/bin:")


async def test_a_marker_file_symlinked_out_of_the_app_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "Procfile").symlink_to("/etc/passwd")
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    result = await StackBuilder().build(tmp_path, tmp_path / "cache", lambda _: None)
    assert result.stack == "static"


async def test_a_pyproject_app_with_uvicorn_gets_a_default_web_command(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "pyproject.toml").write_text(
        '[project]\nname = "asgi-demo"\nversion = "0.1.0"\ndependencies = ["uvicorn==0.54.0"]\n'
        '[tool.setuptools]\npy-modules = ["main"]\n'
    )
    (app_dir / "main.py").write_text(
        "import os\n\n\n"
        "async def app(scope, receive, send):\n"
        "    body = b'ok' if scope['path'] == '/health' else os.environ['GREETING'].encode()\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': body})\n"
    )
    lines: list[str] = []
    result = await StackBuilder().build(app_dir, tmp_path / "cache", lines.append)
    assert "-----> Installing dependencies with uv from pyproject.toml" in lines
    assert result.process_types == {"web": "uvicorn main:app --host 0.0.0.0 --port $PORT"}
    async with (
        running(result.process_types["web"], result, app_dir, GREETING="salut") as url,
        httpx.AsyncClient() as client,
    ):
        assert (await client.get(f"{url}/")).text == "salut"


OUTSIDE_SECRET = "root:outside-the-repo-7d1f:19000:0:99999:7:::"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the repositories, standing for the data dir or /etc."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "master.keys").write_text(OUTSIDE_SECRET)
    (folder / "Procfile").write_text(f"web: echo {OUTSIDE_SECRET}\n")
    (folder / "package.json").write_text('{"scripts": {"start": "node leak.js"}}')
    return folder


async def test_links_out_of_a_fetched_repository_are_removed_before_the_build(
    tmp_path: Path, outside: Path
) -> None:
    repo = make_git_repo(
        tmp_path / "repos" / "hostile",
        {"index.html": "<h1>hi</h1>", "health": "ok", "docs/a.html": "a"},
        links={
            "leak.txt": str(outside / "master.keys"),
            "up": "../../..",
            "etc": "/etc",
            "docs/escape": "../../outside",
            "chain": "docs/escape",
            "latest": "docs",  # stays inside: kept
            "home.html": "index.html",
        },
    )
    lines: list[str] = []
    app_dir, result = await fetch_and_build(repo, tmp_path, lines)
    assert result.stack == "static"
    assert sorted(p.name for p in app_dir.iterdir() if p.is_symlink()) == ["home.html", "latest"]
    assert not (app_dir / "docs" / "escape").is_symlink()
    assert (
        "-----> Removed links that lead outside the app: chain, docs/escape, etc, leak.txt, up"
        in lines
    )
    async with (
        running(result.process_types["web"], result, app_dir) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        assert (await client.get("/home.html")).text == "<h1>hi</h1>"
        assert (await client.get("/latest/a.html")).text == "a"
        for path in ("/leak.txt", "/up/", "/etc/passwd", "/chain/master.keys"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert OUTSIDE_SECRET not in answer.text


@pytest.mark.parametrize("marker", ["Procfile", "package.json", "requirements.txt"])
async def test_a_marker_file_linked_out_of_the_repository_is_never_read(
    marker: str, tmp_path: Path, outside: Path
) -> None:
    target = outside / ("master.keys" if marker == "requirements.txt" else marker)
    repo = make_git_repo(
        tmp_path / "repos" / "marker",
        {"index.html": "<h1>hi</h1>", "health": "ok"},
        links={marker: str(target)},
    )
    lines: list[str] = []
    app_dir, result = await fetch_and_build(repo, tmp_path, lines)
    assert result.stack == "static"
    assert not (app_dir / marker).exists()
    assert OUTSIDE_SECRET not in "\n".join(lines)
    assert OUTSIDE_SECRET not in str(result)


async def test_a_build_step_never_reads_a_file_through_a_link_out_of_the_repository(
    tmp_path: Path, outside: Path
) -> None:
    # uv follows `-r extra.txt` and prints a line it cannot parse: the content would be logged.
    repo = make_git_repo(
        tmp_path / "repos" / "include",
        {"requirements.txt": "-r extra.txt\n", "app.py": "print('hi')\n"},
        links={"extra.txt": str(outside / "master.keys")},
    )
    lines: list[str] = []
    with pytest.raises(StepFailed) as failed:
        await fetch_and_build(repo, tmp_path, lines)
    assert "-----> Removed links that lead outside the app: extra.txt" in lines
    assert OUTSIDE_SECRET not in "\n".join(lines)
    assert OUTSIDE_SECRET not in failed.value.detail


async def test_a_hard_link_in_the_source_is_neither_read_nor_kept(
    tmp_path: Path, outside: Path
) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "index.html").write_text("<h1>hi</h1>")
    (app_dir / "Procfile").hardlink_to(outside / "Procfile")
    assert not scan(app_dir).has("Procfile")
    lines: list[str] = []
    result = await StackBuilder().build(app_dir, tmp_path / "cache", lines.append)
    assert result.stack == "static"
    assert not (app_dir / "Procfile").exists()
    assert (outside / "Procfile").read_text() == f"web: echo {OUTSIDE_SECRET}\n"


@pytest.mark.parametrize(
    "planted",
    [
        {".skyforge": "../../outside"},  # the folder is a link out
        {".skyforge/static_server.py": "../index.html"},  # the script is a link inside
        {".skyforge": "docs"},  # the folder is a link inside
    ],
)
async def test_a_static_build_writes_its_server_into_the_slug_never_through_a_link(
    planted: dict[str, str], tmp_path: Path, outside: Path
) -> None:
    repo = make_git_repo(
        tmp_path / "repos" / "planted",
        {"index.html": "<h1>hi</h1>", "health": "ok", "docs/a.html": "a"},
        links=planted,
    )
    app_dir, result = await fetch_and_build(repo, tmp_path, [])
    script = app_dir / ".skyforge" / "static_server.py"
    assert not script.is_symlink() and not (app_dir / ".skyforge").is_symlink()
    assert script.read_bytes() == Path(static_server.__file__).read_bytes()
    assert str(script) in result.process_types["web"]
    assert (app_dir / "index.html").read_text() == "<h1>hi</h1>"
    assert [p.name for p in (app_dir / "docs").iterdir()] == ["a.html"]
    assert sorted(p.name for p in outside.iterdir()) == ["Procfile", "master.keys", "package.json"]
