"""A git server over smart HTTP for tests: git's own `git http-backend` (CGI) behind a small
threaded HTTP server, with HTTP basic auth when asked, or a redirect instead of answers. It
records every request it sees, so a test can show a request never came."""

from __future__ import annotations

import base64
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class GitServer:
    """Serves the bare repositories under `root` at `url`/<name>.git."""

    root: Path
    url: str = ""
    credentials: tuple[str, str] | None = None  # required with basic auth when set
    redirect_to: str | None = None  # answer every request with a 302 to this base URL
    seen: list[str] = field(default_factory=list)  # "METHOD /path?query"
    authorizations: list[str] = field(default_factory=list)  # Authorization headers received

    def add(self, name: str, work_tree: Path) -> str:
        """A bare copy of `work_tree`'s repository, served as `name`; its URL."""
        subprocess.run(
            ["git", "clone", "-q", "--bare", str(work_tree), str(self.root / name)], check=True
        )
        return f"{self.url}/{name}"


def _handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            server.seen.append(f"{self.command} {self.path}")
            auth = self.headers.get("Authorization")
            if auth:
                server.authorizations.append(auth)
            if server.redirect_to is not None:
                self._plain(302, {"Location": server.redirect_to + self.path})
                return
            if server.credentials is not None:
                expected = base64.b64encode(":".join(server.credentials).encode()).decode()
                if auth != f"Basic {expected}":
                    self._plain(401, {"WWW-Authenticate": 'Basic realm="git"'})
                    return
            self._backend()

        def _backend(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            done = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status, headers = 200, {}
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers[name] = value.strip()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _plain(self, status: int, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _Ipv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextmanager
def git_server(
    root: Path,
    host: str = "127.0.0.1",
    *,
    credentials: tuple[str, str] | None = None,
    redirect_to: str | None = None,
) -> Iterator[GitServer]:
    """A GitServer on `host` (any address of 127.0.0.0/8 works on Linux, or ::1), on a free
    port."""
    root.mkdir(parents=True, exist_ok=True)
    server = GitServer(root, credentials=credentials, redirect_to=redirect_to)
    httpd = (_Ipv6Server if ":" in host else ThreadingHTTPServer)((host, 0), _handler(server))
    shown = f"[{host}]" if ":" in host else host
    server.url = f"http://{shown}:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
