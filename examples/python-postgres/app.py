"""A SkyForge example: a visit counter kept in the PostgreSQL database attached to it."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pg8000.native


def connect() -> pg8000.native.Connection:
    url = urlsplit(os.environ["DATABASE_URL"])
    return pg8000.native.Connection(
        user=unquote(url.username or ""),
        password=unquote(url.password or ""),
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        database=url.path.lstrip("/"),
    )


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            body, status = b"ok", 200
        elif "DATABASE_URL" not in os.environ:
            body, status = b"no database attached", 503
        else:
            db = connect()
            try:
                db.run("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY)")
                db.run("INSERT INTO visits DEFAULT VALUES")
                count = db.run("SELECT count(*) FROM visits")[0][0]
            finally:
                db.close()
            body, status = json.dumps({"visits": count}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
