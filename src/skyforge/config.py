"""Settings: read once from the environment (prefix SKYFORGE_) and passed in, never global."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_ADMIN_TOKEN_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKYFORGE_", extra="ignore")

    data_dir: Path = Path(".skyforge")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    edge_host: str = "127.0.0.1"
    edge_port: int = Field(8080, ge=1, le=65535)
    # The operator's own admin token, instead of one generated at first start: long enough
    # that it cannot be guessed (see _check_admin_token).
    admin_token: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "skyforge:"  # every key SkyForge writes to Redis starts with it
    # Hot reads (see README, "Cache"): in Redis when redis_url is set, else in process; an
    # entry lives this long at most (events drop it sooner); 0 turns the cache off.
    cache_ttl: float = Field(60.0, ge=0)
    nats_url: str | None = None
    # Events on NATS JetStream (see README, "Events"): the stream, and subjects <prefix>.>.
    nats_stream: str = "SKYFORGE"
    nats_subject_prefix: str = "skyforge"
    kafka_bootstrap: str | None = None
    kafka_topic: str = "skyforge.events"
    runtime: Literal["local", "kubernetes", "gitops", "null"] = "local"
    edge: Literal["caddy", "null"] = "caddy"
    # Every step of a deploy has a bound, so no deploy can hang.
    clone_timeout: float = 300.0
    build_timeout: float = 900.0
    release_timeout: float = 300.0
    rollout_timeout: float = 120.0
    # The longest a one-off process (`skyforge run`) may run before it is killed.
    run_timeout: float = Field(3600.0, gt=0)
    drain_seconds: float = 1.0
    stop_grace: float = 10.0
    reconcile_interval: float = 2.0
    max_instances: int = Field(20, ge=1)
    # Tenant processes (builds, release phases, apps) run in a bubblewrap sandbox as a uid of
    # their service (see docs/security.md); "off" runs them as SkyForge's own user, unconfined.
    sandbox: Literal["on", "off"] = "on"
    sandbox_first_uid: int | None = Field(None, ge=1000, le=2**31 - 65_536)  # default: per data dir
    # Resource limits per process (memory, open files) and per service (processes); a service
    # may set its own (`resources`). Builds get theirs, with a bound on CPU time per process.
    app_memory_mb: int = Field(512, ge=32)
    app_processes: int = Field(256, ge=8)
    app_open_files: int = Field(1024, ge=64)
    build_memory_mb: int = Field(4096, ge=256)
    build_processes: int = Field(512, ge=8)
    build_cpu_seconds: int = Field(900, ge=10)
    # `skyforge up` logs one JSON object a line (console: the same fields, for a terminal).
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Login with an OpenID Connect provider (all three set: enabled).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_redirect_url: str | None = None  # default: {api_url}/api/v1/auth/oidc/callback
    admin_email: str = "admin@skyforge.local"
    # Secrets' master key: base64 of 32 bytes; unset, a key file in the data dir. The NEW one is
    # set on every replica during a rotation (see README, "Secrets").
    master_key: SecretStr | None = None
    master_key_new: SecretStr | None = None
    login_lock_seconds: float = Field(60.0, gt=0)  # the first lock-out; it doubles, max 15 min
    # Managed databases: the servers tenants' databases live on (unset: that engine is refused),
    # e.g. postgresql://admin:pw@db:5432/postgres and redis://admin:pw@cache:6379/0.
    postgres_admin_url: SecretStr | None = None
    redis_admin_url: SecretStr | None = None
    backup_interval_hours: float = Field(24.0, ge=0)  # PostgreSQL backups; 0: only on demand
    # Backups go to an S3-compatible bucket when one is set (else to the data dir). Endpoint
    # unset: AWS; keys unset: boto3's own chain (environment, profile, instance role).
    backup_s3_bucket: str | None = None
    backup_s3_endpoint: str | None = (
        None  # e.g. http://minio:9000, https://<id>.r2.cloudflarestorage.com
    )
    backup_s3_region: str = "us-east-1"
    backup_s3_prefix: str = "skyforge-backups/"
    backup_s3_access_key_id: SecretStr | None = None
    backup_s3_secret_access_key: SecretStr | None = None
    # Secure defaults of the HTTP API.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # "https://a,..."
    max_body_bytes: int = Field(1_048_576, ge=0)
    # Slow clients (see api/deadlines.py): a request's headers must arrive within
    # header_timeout (the API and the edge), its body within body_timeout on the API (plus a
    # second per 64 KiB received, for big git pushes); the edge gives a whole request (headers
    # and body) edge_body_timeout, and closes a kept-alive connection idle for edge_idle_timeout.
    header_timeout: float = Field(10.0, gt=0)
    body_timeout: float = Field(60.0, gt=0)
    edge_body_timeout: float = Field(60.0, gt=0)
    edge_idle_timeout: float = Field(120.0, gt=0)
    # A long response (a log stream, SSE) checks its caller's access again this often, and
    # ends once it is gone (a token revoked, a session logged out, a member removed).
    stream_recheck_seconds: float = Field(2.0, gt=0)
    rate_api_burst: int = Field(300, ge=1)  # per token (and a ceiling per client address)
    rate_api_per_second: float = Field(5.0, gt=0)
    rate_auth_burst: int = Field(20, ge=1)  # login, sign-up, refresh, token creation: per address
    rate_auth_per_second: float = Field(1 / 3, gt=0)
    rate_ip_burst: int = Field(1200, ge=1)
    rate_ip_per_second: float = Field(20.0, gt=0)
    # Custom domains (see README, "Custom domains").
    platform_domain: str | None = None  # the platform's own suffix: no custom domain under it
    allow_wildcard_domains: bool = False  # "*.example.com" (verified by DNS only)
    edge_https_port: int | None = Field(None, ge=1, le=65535)  # unset: custom domains plain HTTP
    acme_email: str | None = None
    dns_nameservers: Annotated[list[str], NoDecode] = Field(default_factory=list)  # default: OS's
    dns_port: int = Field(53, ge=1, le=65535)
    verify_connect_to: str | None = None  # local setups: connect here for the HTTP token check
    verify_http_port: int | None = Field(None, ge=1, le=65535)  # default: the edge port
    # Outgoing webhooks (see README, "Webhooks"): targets on loopback, private, link-local or
    # metadata addresses are refused unless allowed here (e.g. 10.0.0.0/8,127.0.0.1/32).
    webhook_allow_private: bool = False
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_timeout: float = Field(10.0, gt=0)
    webhook_retry_base_seconds: float = Field(10.0, gt=0)  # then x3 per attempt, with jitter
    webhook_max_attempts: int = Field(8, ge=1, le=30)
    # Git sources (see README, "Git sources"): network sources follow the webhooks' address
    # policy above; local paths and file:// only under these directories ("/srv/git,/opt/
    # repos"), or for organization admins. The data dir never, even if listed.
    local_source_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # App logs (see README, "App logs"): what each service keeps, in all, before its oldest
    # files go; drains to loopback/private addresses only when allowed (local setups, tests).
    log_retention_bytes: int = Field(64 << 20, ge=1 << 16)
    log_drain_allow_private: bool = False

    @field_validator(
        "cors_origins",
        "dns_nameservers",
        "webhook_allowed_networks",
        "local_source_dirs",
        mode="before",
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("local_source_dirs")
    @classmethod
    def _absolute_dirs(cls, value: list[Path]) -> list[Path]:
        relative = [str(p) for p in value if not p.is_absolute()]
        if relative:
            raise ValueError(f"local source dirs must be absolute paths: {', '.join(relative)}")
        return value

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

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, value: str | None) -> str | None:
        # The message never holds the value: start-up prints it.
        if not value:
            return None
        if len(value) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"SKYFORGE_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters "
                f"(it has {len(value)}); e.g. `openssl rand -base64 33`, or leave it unset "
                "and SkyForge generates one"
            )
        return value
