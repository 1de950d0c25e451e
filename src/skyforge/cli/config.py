"""The saved URL and credentials (a personal token or a login session), readable by their owner."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
REFRESH_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class Session:
    """A login session: a short-lived access token and a single-use refresh token."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> Session:
        """The session in an answer of /auth/login, /auth/refresh or /auth/oidc/poll."""
        expires_at = datetime.now(UTC) + timedelta(seconds=int(body["expires_in"]))
        return cls(str(body["access_token"]), str(body["refresh_token"]), expires_at)

    def expiring(self) -> bool:
        """True when the access token expires within a minute (or has expired)."""
        return self.expires_at - datetime.now(UTC) < REFRESH_MARGIN


@dataclass(frozen=True)
class Config:
    url: str
    token: str | None = field(default=None, repr=False)
    session: Session | None = field(default=None, repr=False)
    token_from_env: bool = False


def config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or "")
    if not base.is_absolute():  # unset, empty or relative: the XDG default
        base = Path.home() / ".config"
    return base / "skyforge" / "config.json"


def _session(data: object) -> Session | None:
    if not isinstance(data, dict):
        return None
    access, refresh, expires = (
        data.get(k) for k in ("access_token", "refresh_token", "expires_at")
    )
    if not (isinstance(access, str) and isinstance(refresh, str) and isinstance(expires, str)):
        return None
    try:
        expires_at = datetime.fromisoformat(expires)
    except ValueError:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return Session(access, refresh, expires_at)


def saved_config() -> Config | None:
    """What `skyforge login` saved, or None (a broken file counts as none)."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    token = data.get("token")
    token = token if isinstance(token, str) else None
    return Config(data["url"], token, None if token else _session(data.get("session")))


def save_config(config: Config) -> Path:
    """Replace the config file atomically (a reader sees the old or the new one), mode 0600."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data: dict[str, Any] = {"url": config.url}
    if config.token:
        data["token"] = config.token
    elif config.session:
        s = config.session
        data["session"] = {
            "access_token": s.access_token,
            "refresh_token": s.refresh_token,
            "expires_at": s.expires_at.astimezone(UTC).isoformat(timespec="seconds"),
        }
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path


def forget_config() -> bool:
    """Delete the config file; False if there was none."""
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Held while a session is refreshed, so two skyforge processes never spend one token."""
    path = config_path().with_name("config.lock")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def load_config() -> Config:
    """SKYFORGE_URL and SKYFORGE_TOKEN override the saved config; the URL has a default."""
    saved = saved_config() or Config(DEFAULT_URL)
    url = (os.environ.get("SKYFORGE_URL") or saved.url).rstrip("/")
    if token := os.environ.get("SKYFORGE_TOKEN"):
        return Config(url, token, token_from_env=True)
    return Config(url, saved.token, saved.session)
