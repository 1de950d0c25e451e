"""The sandbox itself: one uid per service, kept; and no tenant process without it."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import APP_PYTHON

from skyforge.adapters.builders.stack import StackBuilder
from skyforge.adapters.sandbox import Sandbox, UidBook, default_first_uid, sandbox_of
from skyforge.edge.null import NullEdge
from skyforge.kernel.errors import StepFailed
from skyforge.kernel.limits import Limits
from skyforge.runtimes.base import AppRelease, ProcessType, RolloutFailed
from skyforge.runtimes.local import LocalRuntime


def run(sandbox: Sandbox, key: str, slug: Path, script: str) -> subprocess.CompletedProcess[str]:
    argv = sandbox.jail(key, Limits()).command(
        [str(APP_PYTHON), "-c", script], cwd=slug, writable=[slug]
    )
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_each_service_runs_as_its_own_uid_which_it_keeps(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sandbox = sandbox_of(data)
    uids = {}
    for key in ("shop.web", "shop.worker", "blog.web"):
        slug = tmp_path / key
        slug.mkdir()
        sandbox.jail(key, Limits()).own(slug)
        done = run(sandbox, key, slug, "import os; print(os.getuid(), os.getgid())")
        assert done.returncode == 0, done.stderr
        uid, gid = map(int, done.stdout.split())
        assert uid == gid == slug.stat().st_uid and uid >= 1000
        uids[key] = uid
    assert len(set(uids.values())) == 3
    # Another control plane on the same data dir (a restart, a replica) gives the same uids.
    again = sandbox_of(data)
    assert {key: again.uid(key) for key in uids} == uids
    # Another data dir on the host gets other uids.
    assert default_first_uid(tmp_path / "other") != default_first_uid(data)
    assert sandbox_of(tmp_path / "other").uid("shop.web") not in uids.values()


def test_a_service_cannot_read_or_change_another_services_files(tmp_path: Path) -> None:
    sandbox = sandbox_of(tmp_path / "data")
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for key, slug in (("a.web", mine), ("b.web", theirs)):
        slug.mkdir()
        (slug / "secret.txt").write_text("theirs")
        sandbox.jail(key, Limits()).own(slug)
    done = run(sandbox, "a.web", mine, f"open({str(theirs / 'secret.txt')!r}).read()")
    assert done.returncode != 0 and "No such file" in done.stderr  # not even there
    link = mine / "link"
    link.symlink_to(theirs / "secret.txt")  # a link out of its slug leads nowhere either
    done = run(sandbox, "a.web", mine, "open('link').read()")
    assert done.returncode != 0 and "No such file" in done.stderr


@pytest.fixture
def no_bubblewrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host without bubblewrap: every other tool is there."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("setpriv", "prlimit", "git", "sh", "env"):
        found = shutil.which(name)
        assert found is not None
        (tools / name).symlink_to(found)
    monkeypatch.setenv("PATH", str(tools))


def app_in(slug: Path) -> AppRelease:
    slug.mkdir(parents=True, exist_ok=True)
    (slug / "app.py").write_text("import time\ntime.sleep(60)\n")
    return AppRelease(
        key="shop.web",
        hostnames=("web.shop.localhost",),
        release_id="rel1",
        version=1,
        slug_dir=slug,
        processes=(ProcessType("web", f"{APP_PYTHON} app.py", 1),),
        release_command=f"{APP_PYTHON} app.py",
    )


@pytest.mark.usefixtures("no_bubblewrap")
async def test_without_a_sandbox_no_app_or_release_phase_starts_and_the_deploy_says_why(
    tmp_path: Path,
) -> None:
    runtime = LocalRuntime(tmp_path / "data", NullEdge(), stop_grace=1)
    await runtime.start()
    try:
        app = app_in(tmp_path / "slug")
        for step in (runtime.run_release_phase, runtime.rollout):
            with pytest.raises(RolloutFailed) as failed:
                await step(app, lambda _line: None, 10)
            assert "bwrap not found" in str(failed.value)
            assert "SKYFORGE_SANDBOX=off" in str(failed.value)
        assert await runtime.observe() == {}
    finally:
        await runtime.close()
    assert not any(p.name.endswith(".json") for p in (tmp_path / "data" / "run").rglob("*"))


@pytest.mark.usefixtures("no_bubblewrap")
async def test_without_a_sandbox_no_build_runs(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "requirements.txt").write_text("./evil\n")
    lines: list[str] = []
    jail = sandbox_of(tmp_path / "data").jail("shop.web", Limits())
    with pytest.raises(StepFailed, match="bwrap not found"):
        await StackBuilder(jail=jail).build(app_dir, tmp_path / "cache", lines.append)
    assert any("SKYFORGE_SANDBOX=off" in line for line in lines)
    assert not (app_dir / ".venv").exists()


def test_uids_are_allocated_once_each_even_by_racing_processes(tmp_path: Path) -> None:
    book = tmp_path / "uids.json"
    script = (
        "import sys; from pathlib import Path; from skyforge.adapters.sandbox import UidBook\n"
        "b = UidBook(Path(sys.argv[1]), 5_000_000)\n"
        "print(*(b.uid(f'p.s{i}') for i in range(20)))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(book)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    answers = [proc.communicate(timeout=30)[0].split() for proc in runs]
    assert all(answer == answers[0] for answer in answers)
    assert len(set(answers[0])) == 20
    assert UidBook(book, 5_000_000).uid("p.s3") == int(answers[0][3])


@pytest.fixture
def data_dir_in_usr() -> Iterator[Path]:
    """A data dir under a system directory the sandbox binds read-only (operators do this)."""
    data = Path("/usr/local/share") / f"skyforge-test-{secrets.token_hex(6)}"
    data.mkdir(mode=0o711, parents=True)
    try:
        yield data
    finally:
        shutil.rmtree(data)


def test_a_data_dir_under_a_system_directory_is_hidden_all_the_same(data_dir_in_usr: Path) -> None:
    (data_dir_in_usr / "master.keys").write_text("the master key")
    slug = data_dir_in_usr / "slugs" / "web" / "build"
    slug.mkdir(parents=True)
    sandbox = sandbox_of(data_dir_in_usr)
    sandbox.jail("shop.web", Limits()).own(slug)
    done = run(sandbox, "shop.web", slug, "import os; print(os.listdir('.'))")
    assert done.returncode == 0, done.stderr  # its own slug is there
    done = run(sandbox, "shop.web", slug, f"open({str(data_dir_in_usr / 'master.keys')!r})")
    assert done.returncode != 0 and "No such file" in done.stderr
