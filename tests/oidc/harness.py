"""A real OpenID provider (npm oidc-provider) for login tests, and a browser to log in with."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from tests.support import free_port

PROVIDER_DIR = Path(__file__).resolve().parent / "provider"
START_TIMEOUT = 30.0  # generous: a loaded CI box took 4 s where 0.5 s is usual
# Characters that break client_secret_basic unless both sides form-urlencode (RFC 6749, 2.3.1).
CLIENT_SECRET = "s3cret: with +/% and spaces"


@dataclass
class Provider:
    """A running provider with one confidential client registered."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def stop(self) -> None:
        """Terminate the node process (and wait for it, so no zombie outlives the test)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def install_provider() -> None:
    """`npm ci` into tests/oidc/provider once, serialized across pytest-xdist workers."""
    if _installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the OpenID provider tests (Node 20 or later)")
    # One lock per checkout, outside the tree so it needs no .gitignore entry.
    digest = hashlib.sha256(str(PROVIDER_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"skyforge-oidc-npm-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():  # another worker may have installed while we waited
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=PROVIDER_DIR,
                check=True,
                timeout=300,
            )


def _installed() -> bool:
    # Compare versions so a bumped pin in package.json reinstalls instead of testing old code.
    wanted = json.loads((PROVIDER_DIR / "package.json").read_text())["dependencies"]
    installed = PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not installed.exists():
        return False
    return json.loads(installed.read_text())["version"] == wanted["oidc-provider"]


def start_provider(
    tmp_path: Path,
    redirect_uri: str,
    *,
    client_id: str = "skyforge-test",
    client_secret: str = CLIENT_SECRET,
    auth_method: str = "client_secret_basic",
    id_token_claims: bool = True,
) -> Provider:
    """Start oidc-provider on a free port; `id_token_claims=False` leaves email/name to userinfo."""
    install_provider()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed for the OpenID provider tests (Node 20 or later)")
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": client_secret,
        "OIDC_REDIRECT_URIS": redirect_uri,
        "OIDC_AUTH_METHOD": auth_method,
        "OIDC_CONFORM": "0" if id_token_claims else "1",
        # Node holds the read end of a pipe only we write to: if pytest dies, node follows.
        "OIDC_EXIT_ON_EOF": "1",
    }
    for _attempt in range(3):  # a free port can be taken by another worker before node binds it
        port = free_port()
        log = tmp_path / f"oidc-provider-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [node, "provider.mjs", str(port)],
                cwd=PROVIDER_DIR,
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        provider = Provider(
            f"http://127.0.0.1:{port}", client_id, client_secret, redirect_uri, log, process
        )
        if _wait_ready(provider):
            return provider
        provider.stop()
        if "EADDRINUSE" not in log.read_text():
            break
    raise RuntimeError(f"the OpenID provider did not start:\n{log.read_text()[-2000:]}")


def _wait_ready(provider: Provider) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if "ready" in provider.log.read_text().splitlines():
            return True
        if provider.process.poll() is not None:
            return False
        time.sleep(0.02)
    return False


class _Forms(HTMLParser):
    """The forms of a page: action, method and the named inputs with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), values.get("method", "get"), {}))
        elif tag in ("input", "button") and self.forms and values.get("name"):
            self.forms[-1][2][values["name"]] = values.get("value", "")


def browser_login(authorize_url: str, username: str, *, max_steps: int = 10) -> str:
    """Log in and consent on the dev pages like a browser; the final redirect URL (code, state)."""
    callback = parse_qs(urlsplit(authorize_url).query)["redirect_uri"][0]
    target = urlsplit(callback)
    with httpx.Client(follow_redirects=False, timeout=10.0) as browser:
        response = browser.get(authorize_url)
        for _step in range(max_steps):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                where = urlsplit(location)
                # The relying party's callback is where the browser would hand the code over:
                # the test plays the relying party, so it takes the URL without requesting it.
                if (where.scheme, where.netloc, where.path) == (
                    target.scheme,
                    target.netloc,
                    target.path,
                ):
                    return location
                response = browser.get(location)
                continue
            response = _submit(browser, response, username)
    raise AssertionError(f"no redirect to {callback} after {max_steps} steps")


def _submit(browser: httpx.Client, page: httpx.Response, username: str) -> httpx.Response:
    parser = _Forms()
    parser.feed(page.text)
    if page.status_code != 200 or not parser.forms:
        raise AssertionError(f"the provider answered HTTP {page.status_code}:\n{page.text[:2000]}")
    action, method, fields = parser.forms[0]
    if fields.get("prompt") == "login":
        fields |= {"login": username, "password": "x"}
    # Any other prompt (consent) is accepted with the form's own hidden fields.
    url = urljoin(str(page.url), action)
    if method.lower() == "post":
        return browser.post(url, data=fields)
    return browser.get(url, params=fields)
