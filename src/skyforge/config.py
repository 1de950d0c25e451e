"""Settings: read once from the environment (prefix SKYFORGE_) and passed in, never global."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKYFORGE_", extra="ignore")

    data_dir: Path = Path(".skyforge")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    edge_host: str = "127.0.0.1"
    edge_port: int = Field(8080, ge=1, le=65535)
    admin_token: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    nats_url: str | None = None
    kafka_bootstrap: str | None = None
    runtime: Literal["local", "kubernetes", "gitops", "null"] = "local"
    edge: Literal["caddy", "null"] = "caddy"
    # Every step of a deploy has a bound, so no deploy can hang.
    clone_timeout: float = 300.0
    build_timeout: float = 900.0
    release_timeout: float = 300.0
    rollout_timeout: float = 120.0
    drain_seconds: float = 1.0
    stop_grace: float = 10.0
    reconcile_interval: float = 2.0
    max_instances: int = Field(20, ge=1)
    # Login with an OpenID Connect provider (all three set: enabled).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_redirect_url: str | None = None  # default: {api_url}/api/v1/auth/oidc/callback
    admin_email: str = "admin@skyforge.local"
    login_lock_seconds: float = Field(60.0, gt=0)  # the first lock-out; it doubles, max 15 min

    @property
    def db_url(self) -> str:
        """The SQLAlchemy async URL: the configured one, or SQLite in the data dir."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'skyforge.db'}"
        url = self.database_url
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"
