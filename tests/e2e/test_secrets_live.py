"""Secrets with the real local runtime: injected into the app, masked in the deploy output."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import pytest
from tests.e2e.harness import SKYFORGE, SkyForge, deploy_and_wait, wait_deploy
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e
HOST = "web.shop.localhost"
APP = {
    "app.py": """
import hashlib, json, os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        key = hashlib.sha256(os.environ.get("API_KEY", "").encode()).hexdigest()
        body = json.dumps({"release": os.environ.get("SKYFORGE_RELEASE"), "key": key}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
""",
    "Procfile": (
        "web: python app.py\n"
        "release: python -c \"import os;print('the key is', os.environ['API_KEY'])\"\n"
    ),
    "requirements.txt": "# no dependencies\n",
}


def set_secret(skyforge: SkyForge, value: str) -> None:
    """`skyforge secrets set API_KEY --stdin`: the value never is an argument."""
    env = {**skyforge.env, "XDG_CONFIG_HOME": str(skyforge.data_dir / "xdg")}
    done = subprocess.run(
        [str(SKYFORGE), "secrets", "set", "API_KEY", "--stdin", "-p", "shop"],
        input=value,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_a_secret_reaches_the_app_and_its_release_phase_output_is_masked(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    api = skyforge.api()
    api.post("/api/v1/projects", json={"name": "shop"})
    repo = make_git_repo(tmp_path / "app", APP)
    body = {"name": "web", "source": {"git": str(repo)}}
    assert api.post("/api/v1/projects/shop/services", json=body).status_code == 201
    set_secret(skyforge, first)

    done = deploy_and_wait(api, "shop", "web")
    logs = api.get(f"/api/v1/projects/shop/services/web/deploys/{done['id']}/logs").text

    assert done["status"] == "succeeded", logs
    assert "the key is ****" in logs
    assert first not in logs
    answer = json.loads(skyforge.wait_for(HOST, lambda b: json.loads(b)["release"] == "v1"))
    assert answer["key"] == digest(first)

    set_secret(skyforge, second)  # a new release rolls out by itself
    answer = json.loads(skyforge.wait_for(HOST, lambda b: json.loads(b)["key"] == digest(second)))
    assert answer["release"] == "v2"
    items = api.get("/api/v1/projects/shop/services/web/deploys").json()["items"]
    latest = wait_deploy(api, "shop", "web", items[0]["id"])
    logs = api.get(f"/api/v1/projects/shop/services/web/deploys/{latest['id']}/logs").text
    assert "the key is ****" in logs and second not in logs

    skyforge.stop()
    checked = [skyforge.data_dir / "up.log", *skyforge.data_dir.glob("skyforge.db*")]
    for path in checked:
        data = path.read_bytes()
        assert first.encode() not in data and second.encode() not in data, path
