"""Starting SkyForge as a new user does: its help, its logs on a terminal or a pipe, the banner's
login command as printed, and getting back in after losing the admin token."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import SKYFORGE, SkyForge

from skyforge.config import Settings

pytestmark = pytest.mark.e2e
NEW_TOKEN = "a-new-admin-token-after-the-old-was-lost-0123"


def without_venv_on_path(env: dict[str, str]) -> dict[str, str]:
    """The environment of a user who ran `make up`: .venv/bin is not on their PATH."""
    venv_bin = str(SKYFORGE.parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    return {**env, "PATH": os.pathsep.join(path)}


def test_up_help_lists_every_setting_with_its_default_and_meaning() -> None:
    done = subprocess.run(
        [str(SKYFORGE), "up", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\n  SKYFORGE_DATA_DIR=.skyforge\n" in out
    assert "\n  SKYFORGE_SANDBOX=on\n" in out
    assert "\n  SKYFORGE_API_PORT=8000\n" in out
    assert "\n  SKYFORGE_LOG_FORMAT=auto\n" in out
    assert "\n  SKYFORGE_DATABASE_URL=\n" in out  # unset by default
    for name, field in Settings.model_fields.items():
        assert f"  SKYFORGE_{name.upper()}=" in out, name
        assert field.description, f"{name} has no description"
        assert field.description.split()[0] in out, name
    assert max(len(line) for line in out.splitlines()) <= 80


def read_banner(skyforge: SkyForge) -> str:
    return (skyforge.data_dir / "up.out").read_text()


def test_logs_are_json_on_a_pipe_and_the_banners_login_command_works_as_printed(
    tmp_path: Path,
) -> None:
    skyforge = SkyForge(tmp_path / "data")
    skyforge.data_dir.mkdir(parents=True)
    user_env = without_venv_on_path(skyforge.env)
    user_env.pop("SKYFORGE_ADMIN_TOKEN")
    user_env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    with (
        open(skyforge.data_dir / "up.out", "wb") as out,
        open(skyforge.data_dir / "up.log", "wb") as err,
    ):
        proc = subprocess.Popen(
            [str(SKYFORGE), "up"], env=user_env, stdout=out, stderr=err, start_new_session=True
        )
    try:
        wait_ready(skyforge, proc)
        assert httpx.get(f"{skyforge.url}/healthz").status_code == 200
        banner = read_banner(skyforge)
        token = re.search(r"Admin token \(shown once, stored hashed\): (\S+)", banner)
        login = re.search(r"Log in:\s+(.+)", banner)
        assert token and login, banner
        command = shlex.split(login.group(1).replace("<admin token>", token.group(1)))
        assert command[0] == str(SKYFORGE)  # not on PATH: printed as its full path
        logged_in = subprocess.run(
            command, env=user_env, capture_output=True, text=True, timeout=60
        )
        assert logged_in.returncode == 0, logged_in.stdout + logged_in.stderr
        env = {k: v for k, v in user_env.items() if k not in ("SKYFORGE_URL", "SKYFORGE_TOKEN")}
        whoami = subprocess.run(
            [command[0], "whoami"], env=env, capture_output=True, text=True, timeout=60
        )
        assert whoami.returncode == 0, whoami.stdout + whoami.stderr
        assert "admin@skyforge.local" in whoami.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    lines = [line for line in skyforge.log().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line of stderr is one JSON object
    assert {"timestamp", "level", "event"} <= set(events[0])
    assert any(e.get("logger") == "uvicorn.access" and "/healthz" in e["event"] for e in events)


def wait_ready(skyforge: SkyForge, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"skyforge up exited:\n{skyforge.log()}"
        try:
            if httpx.get(f"{skyforge.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("skyforge up did not become ready")


def test_logs_are_readable_lines_on_a_terminal_without_access_lines(tmp_path: Path) -> None:
    skyforge = SkyForge(tmp_path / "data")
    skyforge.data_dir.mkdir(parents=True)
    primary, secondary = pty.openpty()
    printed = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end closed: the process is gone
                return
            if not chunk:
                return
            printed.extend(chunk)

    with open(skyforge.data_dir / "up.out", "wb") as out:
        proc = subprocess.Popen(
            [str(SKYFORGE), "up"],
            env=skyforge.env,
            stdout=out,
            stderr=secondary,
            start_new_session=True,
        )
    os.close(secondary)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_ready(skyforge, proc)
        assert httpx.get(f"{skyforge.url}/healthz").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    reader.join(timeout=10)
    os.close(primary)
    text = printed.decode(errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    assert not [line for line in lines if line.lstrip().startswith("{")]  # no JSON
    assert any(re.search(r"\[info\s*\]", line) for line in lines), text
    assert "/healthz" not in text and "/readyz" not in text  # access lines: DEBUG only


def test_a_lost_admin_token_is_replaced_by_restarting_with_a_new_one(tmp_path: Path) -> None:
    skyforge = SkyForge(tmp_path / "data")
    with skyforge.running(admin_token=None, split_output=True):
        lost = re.search(r"Admin token \(shown once, stored hashed\): (\S+)", read_banner(skyforge))
        assert lost
    with skyforge.running(extra_env={"SKYFORGE_ADMIN_TOKEN": NEW_TOKEN}):
        env = {"SKYFORGE_TOKEN": NEW_TOKEN}
        whoami = run_cli(skyforge, env, "whoami")
        assert "admin@skyforge.local" in whoami.stdout
        tokens = json.loads(run_cli(skyforge, env, "tokens", "list", "--json").stdout)
        admin_tokens = [t for t in tokens if t["name"] == "admin" and not t["revoked_at"]]
        assert len(admin_tokens) == 2  # the lost one still works until it is revoked
        oldest = min(admin_tokens, key=lambda t: t["created_at"])
        run_cli(skyforge, env, "tokens", "revoke", oldest["id"])
        refused = run_cli(skyforge, {"SKYFORGE_TOKEN": lost.group(1)}, "whoami", check=False)
        assert refused.returncode != 0
        assert "admin@skyforge.local" in run_cli(skyforge, env, "whoami").stdout


def run_cli(
    skyforge: SkyForge, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(SKYFORGE), *args],
        env={**skyforge.env, "XDG_CONFIG_HOME": str(skyforge.data_dir / "xdg"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done
