"""A SkyForge example: Flask served by gunicorn."""

import os

from flask import Flask
from markupsafe import escape

app = Flask(__name__)


@app.get("/")
def index() -> str:
    greeting = escape(os.environ.get("GREETING", "hello"))
    return (
        "<!doctype html><title>SkyForge python-flask example</title>"
        f"<h1>{greeting}</h1><p>kind: python-flask</p>"
    )


@app.get("/health")
def health() -> tuple[str, int, dict[str, str]]:
    return "ok", 200, {"Content-Type": "text/plain"}


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
