"""A SkyForge example: the standard library only."""

import html
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, "text/plain", "ok")
        elif self.path == "/":
            greeting = html.escape(os.environ.get("GREETING", "hello"))
            page = (
                "<!doctype html><title>SkyForge python-plain example</title>"
                f"<h1>{greeting}</h1><p>kind: python-plain</p>"
            )
            self._send(200, "text/html; charset=utf-8", page)
        else:
            self._send(404, "text/plain", "not found")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "5000"))), Handler)
    # SIGTERM is how a rollout stops the old process: exit cleanly instead of being killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on port {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
