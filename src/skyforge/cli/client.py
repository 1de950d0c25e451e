"""The API client: credentials on each request, and HTTP failures turned into messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from skyforge import __version__
from skyforge.cli.config import Config, Session, load_config, locked, save_config, saved_config
from skyforge.cli.output import fail

LOGIN_HINT = "run `skyforge login` (or set SKYFORGE_TOKEN)"


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


def retry_after(response: httpx.Response) -> float | None:
    """The seconds of a Retry-After header (None when absent or a date)."""
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


class Api:
    """A session with the REST API; use it as a context manager.

    With a login session, the access token is refreshed a minute before it expires, and once
    more on a 401; each new token pair is saved before it is used (refresh tokens work once).
    """

    def __init__(self, config: Config, login_required: bool = True) -> None:
        if login_required and not (config.token or config.session):
            fail(f"not logged in: {LOGIN_HINT}")
        self.url = check_url(config.url)
        self.token = config.token
        self.session = config.session
        headers = {"User-Agent": f"skyforge-cli/{__version__}", "Accept": "application/json"}
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
            return self._exchange(method, path, stream=False, **kwargs)

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
        if response.status_code == 429 and (wait := retry_after(response)):
            detail += f" (retry in {wait:.0f} s)"
        fail(detail)

    def _exchange(self, method: str, path: str, stream: bool, **kwargs: Any) -> httpx.Response:
        """Send with the current credential; with a session, refresh and retry once on a 401."""
        response = self._send_once(method, path, stream, **kwargs)
        if response.status_code == 401 and self.session is not None:
            response.close()
            self.refresh()
            response = self._send_once(method, path, stream, **kwargs)
        return response

    def _send_once(self, method: str, path: str, stream: bool, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.session is not None and self.session.expiring():
            self.refresh()
        if bearer := self.session.access_token if self.session else self.token:
            headers["Authorization"] = f"Bearer {bearer}"
        request = self._http.build_request(method, path, headers=headers, **kwargs)
        return self._http.send(request, stream=stream)

    def refresh(self) -> None:
        """Trade the saved refresh token for a new pair and save it before using it."""
        with locked():
            saved = saved_config()
            stored = saved.session if saved else None
            if saved is None or stored is None:
                fail(f"not logged in: {LOGIN_HINT}")
            ours = self.session.refresh_token if self.session else None
            if stored.refresh_token != ours and not stored.expiring():
                self.session = stored  # another skyforge command refreshed it meanwhile
                return
            response = self._http.post(
                "/auth/refresh", json={"refresh_token": stored.refresh_token}
            )
            if response.status_code in (400, 401):
                fail(f"the login session has ended ({problem_detail(response)}): {LOGIN_HINT}")
            self.check(response)
            session = Session.from_answer(response.json())
            save_config(replace(saved, session=session))
            self.session = session

    def collect(
        self, path: str, limit: int | None = None, query: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a collection, page after page (at most `limit`), filtered by `query`
        (not in `path`: httpx would drop a query string there for the paging parameters)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while limit is None or len(items) < limit:
            params: dict[str, Any] = {
                **(query or {}),
                "limit": min(200, limit - len(items)) if limit else 200,
            }
            if cursor:
                params["cursor"] = cursor
            page = self.call("GET", path, params=params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items

    @contextmanager
    def stream(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        body: Any = None,
        **params: Any,
    ) -> Iterator[Iterator[str]]:
        """A text body as it arrives, with no read timeout (it may be followed for long)."""
        timeout = httpx.Timeout(30.0, read=None)
        with self._transport_errors():
            response = self._exchange(
                method,
                path,
                stream=True,
                params=params,
                timeout=timeout,
                headers=headers,
                json=body,
            )
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
