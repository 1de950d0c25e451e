"""SkyForge's static file server, started as a site runs it, on a directory full of traps."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support import free_port

from skyforge.adapters.builders import static_server
from skyforge.adapters.builders.stack import system_python

SECRET = "the-secret-outside-the-site"
INDEX = "<h1>home</h1>"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site whose directory holds every kind of link out, next to files it may serve."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (outside / "keys").mkdir()
    (outside / "keys" / "master.keys").write_text(SECRET)
    root = tmp_path / "data" / "slugs" / "svc" / "build"
    (root / "docs").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "style.css").write_text("body{}")
    (root / "app.js").write_text("let a = 1")
    (root / "data.json").write_text("{}")
    (root / "logo.svg").write_text("<svg/>")
    (root / "health").write_text("ok")
    (root / "docs" / "index.html").write_text("<p>docs</p>")
    (root / "docs" / "page.html").write_text("<p>page</p>")
    (root / ".env").write_text(f"TOKEN={SECRET}")
    (root / ".well-known").mkdir()
    (root / ".well-known" / "security.txt").write_text("Contact: mailto:sec@example.com")
    links = {
        "leak.txt": str(outside / "secret.txt"),  # absolute, outside
        "rel-leak.txt": "../../../../outside/secret.txt",
        "keys": str(outside / "keys"),  # a directory outside
        "up": "../../..",
        "root": "/",
        "shadow": "/etc/shadow",
        "docs/escape": "../../../../outside",
        "chain": "docs/escape",  # a link inside, then one out
        "loop": "loop",
        "latest": "docs",  # inside: served
        "home.html": "index.html",
        "abs-inside.html": str(root / "docs" / "page.html"),  # absolute, but inside: served
        "docs/back.html": "../index.html",
        "dangling": "nowhere",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    os.link(outside / "secret.txt", root / "hard.txt")  # the same inode as a file outside
    os.mkfifo(root / "fifo")
    return root


@pytest.fixture
def served(site: Path) -> Iterator[httpx.Client]:
    port = free_port()
    script = Path(static_server.__file__)
    proc = subprocess.Popen(
        [system_python(), "-I", str(script), str(port), str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                client.get("/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the static server did not start"
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def raw(client: httpx.Client, method: str, path: str) -> httpx.Response:
    """A request with the path exactly as written (httpx would clean `..` out of a URL)."""
    request = client.build_request(method, "/")
    request.url = request.url.copy_with(raw_path=path.encode())
    return client.send(request)


def test_files_and_directories_of_the_site_are_served_with_their_types(
    served: httpx.Client,
) -> None:
    page = served.get("/")
    assert (page.status_code, page.text) == (200, INDEX)
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert served.get("/docs/").text == "<p>docs</p>"
    assert served.get("/docs/page.html?v=3").text == "<p>page</p>"
    types = {
        "/style.css": "text/css; charset=utf-8",
        "/app.js": "text/javascript; charset=utf-8",
        "/data.json": "application/json; charset=utf-8",
        "/logo.svg": "image/svg+xml; charset=utf-8",
        "/health": "application/octet-stream",
    }
    for path, kind in types.items():
        answer = served.get(path)
        assert (answer.status_code, answer.headers["content-type"]) == (200, kind), path
    assert served.get("/health").text == "ok"
    assert served.get("/.well-known/security.txt").status_code == 200


def test_links_that_stay_inside_the_site_are_followed(served: httpx.Client) -> None:
    assert served.get("/home.html").text == INDEX
    assert served.get("/latest/page.html").text == "<p>page</p>"
    assert served.get("/abs-inside.html").text == "<p>page</p>"
    assert served.get("/docs/back.html").text == INDEX
    assert served.get("/latest/").text == "<p>docs</p>"


@pytest.mark.parametrize(
    "path",
    [
        "/leak.txt",
        "/rel-leak.txt",
        "/keys/master.keys",
        "/up/outside/secret.txt",
        "/up/",
        "/root/etc/passwd",
        "/root/etc/shadow",
        "/shadow",
        "/docs/escape/secret.txt",
        "/chain/secret.txt",
        "/latest/escape/keys/master.keys",
        "/../../../../outside/secret.txt",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside/secret.txt",
        "/docs/..%2f..%2f..%2f..%2f..%2foutside/secret.txt",
        "/hard.txt",
        "/.env",
        "/loop",
        "/dangling",
        "/fifo",
        "/index.html%00.txt",
        "/index.html/",
    ],
)
def test_nothing_outside_the_site_can_be_read(served: httpx.Client, path: str) -> None:
    for method in ("GET", "HEAD"):
        answer = raw(served, method, path)
        assert answer.status_code == 404, (method, path)
        assert SECRET not in answer.text and "root:" not in answer.text


def test_no_directory_is_listed(served: httpx.Client, site: Path) -> None:
    (site / "docs" / "index.html").unlink()
    answer = served.get("/docs/")
    assert answer.status_code == 404
    assert "page.html" not in answer.text


def test_a_directory_swapped_for_a_link_out_after_start_is_not_followed(
    served: httpx.Client, site: Path, tmp_path: Path
) -> None:
    assert served.get("/docs/page.html").status_code == 200
    (site / "docs").rename(tmp_path / "docs-moved")
    (site / "docs").symlink_to(tmp_path / "docs-moved")
    assert served.get("/docs/page.html").status_code == 404


def test_the_sites_own_404_page_answers_what_is_missing(served: httpx.Client, site: Path) -> None:
    (site / "404.html").write_text("<p>lost</p>")
    for path in ("/nope", "/leak.txt"):
        answer = served.get(path)
        assert (answer.status_code, answer.text) == (404, "<p>lost</p>")


def test_a_directory_without_its_slash_is_redirected_to_it_on_this_site(
    served: httpx.Client, site: Path
) -> None:
    answer = served.get("/docs")
    assert (answer.status_code, answer.headers["location"]) == (301, "/docs/")
    (site / "evil.example").mkdir()
    answer = raw(served, "GET", "//evil.example")
    assert (answer.status_code, answer.headers["location"]) == (301, "/evil.example/")


def test_only_get_and_head_are_answered(served: httpx.Client) -> None:
    head = served.head("/")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(INDEX))
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = served.request(method, "/index.html")
        assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")


def test_an_unchanged_file_answers_not_modified(served: httpx.Client) -> None:
    first = served.get("/style.css")
    again = served.get("/style.css", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert (again.status_code, again.content) == (304, b"")
