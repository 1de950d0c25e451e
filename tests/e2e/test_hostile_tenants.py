"""Every tenant process is hostile: apps, builds and release phases try to cross each boundary.

One team deploys a victim app; another deploys apps that try to read the control plane's
database and keys, talk to the router's admin socket, read or change the victim's files, signal
or trace the control plane, escalate, and exhaust the host. Every attempt must fail, while the
network stays open and the victim keeps serving.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e

# Tries everything; answers JSON {attempt: what happened}. The paths it aims at are written into
# the repository (TARGETS): an attacker could guess them, the test only saves the guessing.
ATTACKS = r"""
import ctypes, errno, json, os, signal, socket, subprocess, urllib.request

def attempt(action):
    try:
        result = action()
    except BaseException as exc:
        return f"refused: {type(exc).__name__}: {exc}"[:200]
    return f"done: {result!r}"[:200]

def read(path):
    with open(path, "rb") as f:
        return len(f.read())

def write(path):
    with open(path, "w") as f:
        f.write("owned")
    return path

def admin_socket():
    s = socket.socket(socket.AF_UNIX)
    s.connect(TARGETS["DATA_DIR"] + "/run/caddy-admin.sock")
    s.sendall(b"GET /config/ HTTP/1.0\r\n\r\n")
    return s.recv(100)

def fork_bomb():
    children = []
    try:
        for _ in range(400):
            children.append(subprocess.Popen(["sleep", "30"]))
    finally:
        for child in children:
            child.kill()
            child.wait()
    return len(children)

def hog_memory():
    return len(bytearray(1 << 30))

def open_files():
    handles = []
    try:
        for _ in range(5000):
            handles.append(open("/dev/null"))
    finally:
        for h in handles:
            h.close()
    return len(handles)

def ptrace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, int(TARGETS["CONTROL_PID"]), None, None) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return "attached"

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return line.split()[1]

def attacks():
    data, victim, api = TARGETS["DATA_DIR"], TARGETS["VICTIM_SLUG"], TARGETS["API_URL"]
    return {
        "uid": os.getuid(),
        "no_new_privs": status("NoNewPrivs"),
        "capabilities": status("CapEff"),
        "pids_visible": len([p for p in os.listdir("/proc") if p.isdigit()]),
        "read_database": attempt(lambda: read(data + "/skyforge.db")),
        "read_master_keys": attempt(lambda: read(data + "/master.keys")),
        "list_data_dir": attempt(lambda: os.listdir(data)),
        "admin_socket": attempt(admin_socket),
        "admin_tcp": attempt(lambda: socket.create_connection(("127.0.0.1", 2019), 2).close()),
        "read_victim": attempt(lambda: read(victim + "/app.py")),
        "list_victim_logs": attempt(lambda: os.listdir(data + "/logs/apps/victim.web")),
        "list_victim_cache": attempt(lambda: os.listdir(TARGETS["VICTIM_CACHE"])),
        "write_victim": attempt(lambda: write(victim + "/owned.txt")),
        "read_shadow": attempt(lambda: read("/etc/shadow")),
        "write_usr": attempt(lambda: write("/usr/owned.txt")),
        "write_etc": attempt(lambda: write("/etc/owned.txt")),
        "write_tmp": attempt(lambda: write(TARGETS["TMP_FILE"])),
        "signal_control_plane": attempt(lambda: os.kill(int(TARGETS["CONTROL_PID"]), 0)),
        "ptrace_control_plane": attempt(ptrace),
        "become_root": attempt(lambda: os.setuid(0)),
        "fork_bomb": attempt(fork_bomb),
        "hog_memory": attempt(hog_memory),
        "open_files": attempt(open_files),
        "network": attempt(lambda: urllib.request.urlopen(api + "/healthz").status),
    }
"""


def hostile_app(targets: dict[str, str]) -> dict[str, str]:
    """The attacking app's repository, aimed at `targets`."""
    attacks = f"TARGETS = {targets!r}\n{ATTACKS}"
    return {
        "attacks.py": attacks,
        "app.py": """
import json, os
from http.server import BaseHTTPRequestHandler, HTTPServer
from attacks import attacks

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(attacks()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
""",
        # The build runs an sdist's setup.py and the release phase runs before traffic: both attack.
        "requirements.txt": "./evil\n",
        # The installer hides a successful build's output: the results go to the build's HOME.
        "evil/setup.py": attacks
        + """
with open(os.environ["HOME"] + "/evil-build.json", "w") as f:
    json.dump(attacks(), f)
from setuptools import setup
setup(name="evil", version="1", py_modules=[])
""",
        "evil/pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n'
        'build-backend = "setuptools.build_meta"\n',
        "release.py": "import json\nfrom attacks import attacks\n"
        "print('EVIL-RELEASE ' + json.dumps(attacks()), flush=True)\n",
        "Procfile": "web: python app.py\nrelease: python release.py\n",
    }


# What the sandbox must have refused, whatever the process (app, build or release phase).
REFUSED = [
    "read_database",
    "read_master_keys",
    "list_data_dir",
    "admin_socket",
    "admin_tcp",
    "read_victim",
    "list_victim_logs",
    "list_victim_cache",
    "write_victim",
    "read_shadow",
    "write_usr",
    "write_etc",
    "signal_control_plane",
    "ptrace_control_plane",
    "become_root",
]


def assert_contained(seen: dict[str, object], what: str) -> None:
    for attack in REFUSED:
        assert str(seen[attack]).startswith("refused"), (what, attack, seen[attack])
    assert seen["uid"] != 0, what
    assert seen["no_new_privs"] == "1" and int(str(seen["capabilities"]), 16) == 0, what
    assert int(str(seen["pids_visible"])) < 10, what  # its own pid namespace
    assert str(seen["write_tmp"]).startswith("done"), what  # a private /tmp is writable
    assert seen["network"] == "done: 200", what  # the network stays open


def test_hostile_apps_builds_and_release_phases_reach_nothing_of_the_platform(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    assert "Sandbox: every build and app in bubblewrap" in skyforge.log()  # as start-up says
    api = skyforge.api()
    for project in ("victim", "evil"):
        assert api.post("/api/v1/projects", json={"name": project}).status_code == 201
    victim_repo = make_git_repo(tmp_path / "victim", PROBE_APP)
    created = api.post(
        "/api/v1/projects/victim/services",
        json={"name": "web", "source": {"git": str(victim_repo)}},
    )
    assert created.status_code == 201, created.text
    assert deploy_and_wait(api, "victim", "web")["status"] == "succeeded"
    [victim_slug] = [p.parent for p in (skyforge.data_dir / "slugs").glob("*/*/app.py")]

    evil = "/api/v1/projects/evil/services/web"
    assert skyforge.proc is not None
    targets = {
        "DATA_DIR": str(skyforge.data_dir.resolve()),
        "VICTIM_SLUG": str(victim_slug.resolve()),
        "VICTIM_CACHE": str((skyforge.data_dir / "cache" / victim_slug.parent.name).resolve()),
        "CONTROL_PID": str(skyforge.proc.pid),
        "API_URL": skyforge.url,
        "TMP_FILE": f"/tmp/owned-by-tenant-{secrets.token_hex(8)}.txt",
    }
    # What it aims at is there, on the host.
    assert Path(targets["VICTIM_CACHE"]).is_dir()
    assert (skyforge.data_dir / "logs" / "apps" / "victim.web").is_dir()
    evil_repo = make_git_repo(tmp_path / "evil", hostile_app(targets))
    created = api.post(
        "/api/v1/projects/evil/services", json={"name": "web", "source": {"git": str(evil_repo)}}
    )
    assert created.status_code == 201, created.text
    limits = {"memory_mb": 256, "processes": 64, "open_files": 256}
    updated = api.patch(evil, json={"resources": limits})
    assert updated.status_code == 200 and updated.json()["resources"] == limits
    deploy = deploy_and_wait(api, "evil", "web")
    log = api.get(f"{evil}/deploys/{deploy['id']}/logs").text
    assert deploy["status"] == "succeeded", log

    marker = "EVIL-RELEASE "
    line = next(line for line in log.splitlines() if marker in line)

    app = json.loads(skyforge.wait_for("web.evil.localhost", lambda body: "uid" in body))
    [build_report] = (skyforge.data_dir / "cache").glob("*/home/evil-build.json")
    for what, seen in (
        ("build", json.loads(build_report.read_text())),
        ("release phase", json.loads(line[line.index(marker) + len(marker) :])),
        ("app", app),
    ):
        assert_contained(seen, what)
    # The service's own limits hold: processes, memory and open files are bounded.
    for attack in ("fork_bomb", "hog_memory", "open_files"):
        assert str(app[attack]).startswith("refused"), (attack, app[attack])
    # Each service has its own uid; the victim's files stay the victim's.
    assert victim_slug.stat().st_uid not in (0, app["uid"])
    assert not (victim_slug / "owned.txt").exists()
    assert not Path(targets["TMP_FILE"]).exists()
    status, body = skyforge.get("web.victim.localhost")
    assert status == 200 and json.loads(body)["release"] == "v1"
    assert httpx.get(f"{skyforge.url}/healthz").status_code == 200
