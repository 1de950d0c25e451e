"""A static site whose repository holds links out of it serves its own files and nothing else."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest
from tests.e2e.harness import SkyForge, deploy_and_wait
from tests.support import make_git_repo

pytestmark = pytest.mark.e2e

INDEX = "<h1>a static site</h1>"


def raw_get(skyforge: SkyForge, host: str, path: str) -> tuple[int, bytes]:
    """GET through the edge with the path sent exactly as written (no client-side cleaning)."""
    conn = http.client.HTTPConnection("127.0.0.1", skyforge.edge_port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_links_out_of_a_static_sites_repository_serve_nothing_from_outside(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    data = skyforge.data_dir.resolve()
    repo = make_git_repo(
        tmp_path / "site",
        {
            "index.html": INDEX,
            "docs/index.html": "<p>the docs</p>",
            "docs/page.css": "body { color: red }",
        },
        links={
            "leak.txt": str(data / "master.keys"),  # absolute, to the data dir
            "db": str(data / "skyforge.db"),
            "up": "../../..",  # the slug is <data>/slugs/<service>/<build>: this is the data dir
            "shadow": "/etc/shadow",
            "root": "/",
            "docs/escape": "../../../..",
            "chain": "docs/escape",  # inside at first, out at the second hop
            "latest": "docs",  # a link inside the site still works
            "home.html": "index.html",
        },
    )
    api = skyforge.api()
    assert api.post("/api/v1/projects", json={"name": "attack"}).status_code == 201
    created = api.post(
        "/api/v1/projects/attack/services",
        json={"name": "site", "source": {"git": str(repo), "branch": "main"}},
    )
    assert created.status_code == 201, created.text
    done = deploy_and_wait(api, "attack", "site")
    logs = api.get(f"/api/v1/projects/attack/services/site/deploys/{done['id']}/logs").text
    assert done["status"] == "succeeded", logs
    assert "Static app detected" in logs
    assert "leak.txt" in logs  # the build says which links it dropped

    host = "site.attack.localhost"
    assert skyforge.get(host, "/") == (200, INDEX)
    assert skyforge.get(host, "/home.html") == (200, INDEX)
    assert skyforge.get(host, "/docs/") == (200, "<p>the docs</p>")
    assert skyforge.get(host, "/latest/page.css") == (200, "body { color: red }")

    master = (data / "master.keys").read_bytes()
    for path in (
        "/leak.txt",
        "/db",
        "/up/master.keys",
        "/up/skyforge.db",
        "/up/",
        "/shadow",
        "/root/etc/shadow",
        "/root/etc/passwd",
        "/docs/escape/master.keys",
        "/chain/master.keys",
        "/latest/escape/skyforge.db",
        "/../../../master.keys",
        "/%2e%2e/%2e%2e/%2e%2e/master.keys",
        "/docs/..%2f..%2f..%2f../master.keys",
        "/.skyforge/static_server.py",
    ):
        status, body = raw_get(skyforge, host, path)
        assert status in (400, 404), (path, status, body[:200])
        assert master not in body and b"root:" not in body and b"SQLite" not in body, path
