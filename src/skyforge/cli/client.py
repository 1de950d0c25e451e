"""The API client: where SkyForge is, the token, and HTTP failures turned into messages."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from skyforge import __version__
from skyforge.cli.output import fail

DEFAULT_URL = "http://127.0.0.1:8000"
LOGIN_HINT = "run `skyforge login` (or set SKYFORGE_TOKEN)"


@dataclass(frozen=True)
class Config:
    url: str
    token: str | None = field(default=None, repr=False)


def config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or "")
    if not base.is_absolute():  # unset, empty or relative: the XDG default
        base = Path.home() / ".config"
    return base / "skyforge" / "config.json"


def saved_config() -> Config | None:
    """What `skyforge login` saved, or None (a broken file counts as none)."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    token = data.get("token")
    return Config(data["url"], token if isinstance(token, str) else None)


def save_config(config: Config) -> Path:
    """Write the config file, readable by its owner only."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the file may have existed with a wider mode
    with os.fdopen(fd, "w") as f:
        json.dump({"url": config.url, "token": config.token}, f, indent=2)
        f.write("\n")
    return path


def load_config() -> Config:
    """SKYFORGE_URL and SKYFORGE_TOKEN override the saved config; the URL has a default."""
    saved = saved_config() or Config(DEFAULT_URL)
    url = os.environ.get("SKYFORGE_URL") or saved.url
    token = os.environ.get("SKYFORGE_TOKEN") or saved.token
    return Config(url.rstrip("/"), token)


def check_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host, else an error."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        fail(f"{url!r} is not an http:// or https:// URL of SkyForge")
    return url.rstrip("/")


def segment(name: str) -> str:
    """One path segment: a name cannot add segments or climb out of its place."""
    if not name:
        fail("a name cannot be empty")
    quoted = quote(name, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def service_path(project: str, service: str) -> str:
    return f"/projects/{segment(project)}/services/{segment(service)}"


def problem_detail(response: httpx.Response) -> str:
    """The problem+json detail, else the body, else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    text = response.text.strip()
    return text[:500] if text else f"{response.status_code} {response.reason_phrase}"


class Api:
    """A session with the REST API; use it as a context manager."""

    def __init__(self, config: Config) -> None:
        if not config.token:
            fail(f"not logged in: {LOGIN_HINT}")
        self.url = check_url(config.url)
        headers = {"User-Agent": f"skyforge-cli/{__version__}", "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30.0)

    def __enter__(self) -> Api:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The raw response; only transport failures become errors here."""
        with self._transport_errors():
            return self._http.request(method, path, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON body (None when empty); an error status becomes an error."""
        response = self.send(method, path, **kwargs)
        self.check(response)
        return response.json() if response.content else None

    def check(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        detail = problem_detail(response)
        if response.status_code == 401:
            fail(f"{detail}: {LOGIN_HINT}")
        fail(detail)

    def collect(self, path: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Every item of a collection, page after page (at most `limit`)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while limit is None or len(items) < limit:
            params: dict[str, Any] = {"limit": min(200, limit - len(items)) if limit else 200}
            if cursor:
                params["cursor"] = cursor
            page = self.call("GET", path, params=params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items

    @contextmanager
    def stream(self, path: str, **params: Any) -> Iterator[Iterator[str]]:
        """A text body as it arrives, with no read timeout (it may be followed for long)."""
        timeout = httpx.Timeout(30.0, read=None)
        with self._transport_errors():
            request = self._http.build_request("GET", path, params=params, timeout=timeout)
            response = self._http.send(request, stream=True)
            try:
                if not response.is_success:
                    response.read()
                    self.check(response)
                yield response.iter_text()
            finally:
                response.close()

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.ConnectError:
            fail(f"cannot reach SkyForge at {self.url} (is `skyforge up` running?)")
        except httpx.TimeoutException:
            fail(f"SkyForge at {self.url} did not answer in time")
        except httpx.HTTPError as exc:
            fail(f"the connection to SkyForge at {self.url} failed: {exc}")


def connect() -> Api:
    """An API session from the config file and the environment."""
    return Api(load_config())
