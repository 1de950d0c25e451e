"""SkyForge's static file server: a site's own files, and nothing outside its directory.

A build copies this file into the slug and the site runs it with the system Python:

    python3 -I <slug>/.skyforge/static_server.py [--bind ADDRESS] PORT DIRECTORY

so it uses the standard library only (a sandboxed app sees its slug and the system, not
SkyForge). It answers GET and HEAD: a regular file under DIRECTORY, `index.html` for a
directory (asked for without its trailing slash, it is redirected there), the site's own
`404.html` (else a short text) for anything else. No listings; no dotfiles but `.well-known`.

How nothing outside can be read: a path is opened one component at a time, each with
O_NOFOLLOW relative to the descriptor of the directory before it, starting from a descriptor of
the site opened at start-up. A symbolic link is followed only by this same walk: its target
(relative, or absolute under the site's own path) continues from where it stands, so `..`
above the site, an absolute path elsewhere or a chain of links that ends outside is refused, and
a directory swapped for a link while a request runs fails its O_NOFOLLOW open instead of being
followed. A regular file with more than one hard link is refused as well: it may be the inode of
a file outside. `Root` is shared with the build's marker lookup: one rule for both.
"""

from __future__ import annotations

import argparse
import email.utils
import errno
import mimetypes
import os
import signal
import socket
import stat
import sys
import urllib.parse
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_LINKS = 40  # the kernel's own limit on the links one path may pass through
CHUNK = 1 << 16
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK  # no FIFO wait
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".md": "text/markdown",
}
# A client's control characters must not reach the log as such (forged lines, terminal codes).
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
# The built-in table only (not the host's /etc/mime.types): the same answer on every machine.
_MIME = mimetypes.MimeTypes()


class Refused(Exception):
    """The path leads outside the site (or passes through more links than allowed)."""


def open_beneath(root: int, parts: Iterable[str], absolute: Sequence[str] = ()) -> int:
    """A read-only descriptor of the path `parts` under the directory descriptor `root`.

    Symbolic links are followed only while they stay under root: an absolute target must start
    with one of `absolute` (root's own paths). Raises Refused for a path that leaves root,
    FileNotFoundError / NotADirectoryError (OSError) for one that does not exist.
    """
    todo = list(reversed(list(parts)))
    below: list[int] = []  # descriptors of the directories walked so far, below root
    hops = 0
    try:
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if not below:
                    raise Refused("the path goes above the site")
                os.close(below.pop())
                continue
            here = below[-1] if below else root
            try:
                fd = os.open(name, _OPEN, dir_fd=here)
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # ELOOP: `name` itself is a symbolic link
                    raise
                hops += 1
                if hops > MAX_LINKS:
                    raise Refused("too many symbolic links") from None
                target = os.readlink(name, dir_fd=here)
                if target.startswith("/"):
                    target = _inside(target, absolute)
                    while below:  # an absolute target starts over from the site's root
                        os.close(below.pop())
                todo.extend(reversed(target.split("/")))
                continue
            below.append(fd)
            if any(rest not in ("", ".") for rest in todo) and not stat.S_ISDIR(
                os.fstat(fd).st_mode
            ):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), name)
        return below.pop() if below else os.dup(root)
    finally:
        for fd in below:
            os.close(fd)


def _inside(target: str, absolute: Sequence[str]) -> str:
    """The rest of an absolute link target after the site's path, or Refused."""
    words = [w for w in target.split("/") if w]
    for prefix in absolute:
        head = [w for w in prefix.split("/") if w]
        if words[: len(head)] == head:
            return "/".join(words[len(head) :])
    raise Refused("a link points outside the site")


def content_type(name: str) -> str:
    _, ext = os.path.splitext(name.lower())
    kind = _TYPES.get(ext) or _MIME.guess_type(name, strict=False)[0] or "application/octet-stream"
    textual = kind.startswith("text/") or kind in ("application/json", "image/svg+xml")
    return f"{kind}; charset=utf-8" if textual else kind


class Root:
    """A directory held open by descriptor, that opens only what lies beneath it."""

    def __init__(self, directory: str) -> None:
        real = os.path.realpath(directory)
        self.fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.absolute = tuple(dict.fromkeys((real, os.path.abspath(directory))))

    def close(self) -> None:
        os.close(self.fd)

    def open(self, parts: Sequence[str]) -> tuple[int, os.stat_result] | None:
        """The descriptor and stat of a directory or of a regular file with no other hard
        link, at `parts` beneath the root; None for anything else, missing or outside."""
        try:
            fd = open_beneath(self.fd, parts, self.absolute)
        except (Refused, OSError, ValueError):  # ValueError: a NUL in the name
            return None
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_nlink == 1):
            return fd, info
        os.close(fd)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # a client that trickles its request is cut off

    def version_string(self) -> str:
        return "SkyForge-static"

    @property
    def root(self) -> Root:
        assert isinstance(self.server, Server)
        return self.server.root

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _refuse_method(self) -> None:
        self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"405 Method Not Allowed\n", allow=True)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse_method

    def _serve(self, send_body: bool) -> None:
        split = urllib.parse.urlsplit(self.path)
        if not split.path.startswith("/"):
            self._answer(HTTPStatus.BAD_REQUEST, b"400 Bad Request\n", send_body=send_body)
            return
        # surrogateescape: a %-encoded byte that is not UTF-8 names that very byte on disk.
        path = urllib.parse.unquote(split.path, errors="surrogateescape")
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") or (p.startswith(".") and p != ".well-known") for p in parts):
            self._not_found(send_body)
            return
        found = self.root.open(parts)
        if found is not None and stat.S_ISDIR(found[1].st_mode):
            os.close(found[0])
            if not path.endswith("/"):
                self._redirect_to_directory(parts, split.query)
                return
            parts = [*parts, "index.html"]
            found = self.root.open(parts)
        elif found is not None and path.endswith("/"):  # a file asked for as a directory
            os.close(found[0])
            found = None
        if found is not None and not stat.S_ISREG(found[1].st_mode):  # index.html a directory
            os.close(found[0])
            found = None
        if found is None:
            self._not_found(send_body)
            return
        self._send_file(HTTPStatus.OK, found, content_type(parts[-1]), send_body)

    def _redirect_to_directory(self, parts: Sequence[str], query: str) -> None:
        # Built from the cleaned parts: "//host" can never become a redirect to another site.
        location = "/" + "/".join(urllib.parse.quote(p, errors="surrogateescape") for p in parts)
        location += "/" + (f"?{urllib.parse.quote(query, safe='=&%+')}" if query else "")
        self._answer(HTTPStatus.MOVED_PERMANENTLY, b"", location=location)

    def _not_found(self, send_body: bool) -> None:
        page = self.root.open(["404.html"])
        if page is not None and stat.S_ISREG(page[1].st_mode):
            self._send_file(HTTPStatus.NOT_FOUND, page, content_type("404.html"), send_body)
            return
        if page is not None:
            os.close(page[0])
        self._answer(HTTPStatus.NOT_FOUND, b"404 Not Found\n", send_body=send_body)

    def _send_file(
        self, status: int, found: tuple[int, os.stat_result], kind: str, send_body: bool
    ) -> None:
        fd, info = found
        with os.fdopen(fd, "rb") as handle:
            modified = int(info.st_mtime)
            if status == HTTPStatus.OK and self._not_modified_since(modified):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(info.st_size))
            self.send_header("Last-Modified", email.utils.formatdate(modified, usegmt=True))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            left = info.st_size
            while send_body and left > 0 and (chunk := handle.read(min(CHUNK, left))):
                self.wfile.write(chunk)
                left -= len(chunk)
            if send_body and left > 0:  # the file shrank under us: the promised length is a lie
                self.close_connection = True

    def _not_modified_since(self, modified: int) -> bool:
        since = self.headers.get("If-Modified-Since")
        if not since or self.headers.get("If-None-Match"):
            return False
        try:
            return modified <= int(email.utils.parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError, IndexError, OverflowError):
            return False

    def _answer(
        self,
        status: int,
        body: bytes,
        *,
        send_body: bool = True,
        allow: bool = False,
        location: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", "GET, HEAD")
        if location is not None:
            self.send_header("Location", location)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code if isinstance(code, str) else int(code)
        print(f"{self.command} {self.path.translate(_CONTROL)} {status}", flush=True)

    def log_message(self, format: str, *args: Any) -> None:
        print((format % args).translate(_CONTROL), flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Root) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.root = root
        super().__init__(address, Handler)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a static site, nothing outside it.")
    parser.add_argument("port", type=int)
    parser.add_argument("directory")
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = Server((args.bind, args.port), Root(args.directory))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving {args.directory} on {args.bind}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
