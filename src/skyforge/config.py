"""Settings: read once from the environment (prefix SKYFORGE_) and passed in, never global."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_ADMIN_TOKEN_LENGTH = 32


class Settings(BaseSettings):
    # Each field's docstring is its description: `skyforge up --help` lists them.
    model_config = SettingsConfigDict(
        env_prefix="SKYFORGE_", extra="ignore", use_attribute_docstrings=True
    )

    data_dir: Path = Path(".skyforge")
    """All state: database, slugs, build caches, app logs, the router's."""
    api_host: str = "127.0.0.1"
    """Address the API and portal listen on."""
    api_port: int = Field(8000, ge=1, le=65535)
    """Port of the API and portal."""
    edge_host: str = "127.0.0.1"
    """Address the edge router listens on."""
    edge_port: int = Field(8080, ge=1, le=65535)
    """Port of the edge router: http://<service>.<project>.localhost:PORT/."""
    # The operator's own admin token, instead of one generated at first start: long enough
    # that it cannot be guessed (see _check_admin_token).
    admin_token: str | None = None
    """An admin token (>= 32 characters); unset: one generated at first start. A new one gets
    a lost admin back in."""
    database_url: str | None = None
    """postgresql://user@host/db (PostgreSQL or YugabyteDB); unset: SQLite in the data dir."""
    redis_url: str | None = None
    """Redis for the cache and rate limits; unset: in process."""
    redis_prefix: str = "skyforge:"  # every key SkyForge writes to Redis starts with it
    """Prefix of every key SkyForge writes to Redis."""
    # Hot reads (see README, "Cache"): in Redis when redis_url is set, else in process; an
    # entry lives this long at most (events drop it sooner); 0 turns the cache off.
    cache_ttl: float = Field(60.0, ge=0)
    """Seconds a cached read lives at most (events drop it sooner); 0: no cache."""
    nats_url: str | None = None
    """NATS JetStream for events; unset: an in-process bus."""
    # Events on NATS JetStream (see README, "Events"): the stream, and subjects <prefix>.>.
    nats_stream: str = "SKYFORGE"
    """JetStream stream of the events."""
    nats_subject_prefix: str = "skyforge"
    """Events go to subjects <prefix>.>."""
    kafka_bootstrap: str | None = None
    """Kafka/Redpanda brokers the events are copied to; unset: off."""
    kafka_topic: str = "skyforge.events"
    """Kafka topic of the events."""
    runtime: Literal["local", "kubernetes", "gitops", "null"] = "local"
    """Where services run: local processes, kubernetes, gitops, or null (tests)."""
    edge: Literal["caddy", "null"] = "caddy"
    """The edge router: caddy, or null (none)."""
    # Every step of a deploy has a bound, so no deploy can hang.
    clone_timeout: float = 300.0
    """Seconds a git clone may take."""
    build_timeout: float = 900.0
    """Seconds a build may take."""
    release_timeout: float = 300.0
    """Seconds a release phase may take."""
    rollout_timeout: float = 120.0
    """Seconds a rollout may take."""
    boot_timeout: float = Field(60.0, ge=1, le=600)
    """Seconds a new web process may take to answer its health check (a service may set its
    own, up to 600 s); the rollout's bound applies too."""
    run_timeout: float = Field(3600.0, gt=0)
    """Seconds a one-off process (`skyforge run`) may run before it is killed."""
    drain_seconds: float = 1.0
    """Seconds an old release keeps serving after the switch."""
    stop_grace: float = 10.0
    """Seconds between SIGTERM and SIGKILL of a process."""
    reconcile_interval: float = 2.0
    """Seconds between two passes of the reconciler."""
    max_instances: int = Field(20, ge=1)
    """Most instances of one process type."""
    # Tenant processes (builds, release phases, apps) run in a bubblewrap sandbox as a uid of
    # their service (see docs/security.md); "off" runs them as SkyForge's own user, unconfined.
    sandbox: Literal["on", "off"] = "on"
    """on: every build and app in bubblewrap as its service's uid; off: unconfined."""
    sandbox_first_uid: int | None = Field(None, ge=1000, le=2**31 - 65_536)  # default: per data dir
    """First of the 65,536 uids given to services; unset: from the data dir."""
    # Resource limits per process (memory, open files) and per service (processes); a service
    # may set its own (`resources`). Builds get theirs, with a bound on CPU time per process.
    app_memory_mb: int = Field(512, ge=32)
    """Memory limit of an app process (MB)."""
    app_processes: int = Field(256, ge=8)
    """Process limit of a service."""
    app_open_files: int = Field(1024, ge=64)
    """Open-file limit of an app process."""
    build_memory_mb: int = Field(4096, ge=256)
    """Memory limit of a build process (MB)."""
    build_processes: int = Field(512, ge=8)
    """Process limit of a build."""
    build_cpu_seconds: int = Field(900, ge=10)
    """CPU seconds a build process may use."""
    # `skyforge up` logs one JSON object a line, or the same fields for a terminal.
    log_format: Literal["auto", "json", "console"] = "auto"
    """auto: readable lines on a terminal, JSON otherwise; or json, console."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """DEBUG, INFO, WARNING or ERROR (access lines on a console: DEBUG only)."""
    # Login with an OpenID Connect provider (all three set: enabled).
    oidc_issuer: str | None = None
    """OpenID Connect issuer URL for login (with the client id and secret)."""
    oidc_client_id: str | None = None
    """OpenID Connect client id."""
    oidc_client_secret: str | None = None
    """OpenID Connect client secret."""
    oidc_redirect_url: str | None = None  # default: {api_url}/api/v1/auth/oidc/callback
    """OpenID Connect redirect URL; unset: <api url>/api/v1/auth/oidc/callback."""
    admin_email: str = "admin@skyforge.local"
    """E-mail of the first admin user."""
    # Secrets' master key: base64 of 32 bytes; unset, a key file in the data dir. The NEW one is
    # set on every replica during a rotation (see README, "Secrets").
    master_key: SecretStr | None = None
    """Secrets' master key, base64 of 32 bytes; unset: a key file in the data dir."""
    master_key_new: SecretStr | None = None
    """The next master key, set during a rotation."""
    login_lock_seconds: float = Field(60.0, gt=0)  # the first lock-out; it doubles, max 15 min
    """First lock-out after failed logins (doubles, at most 15 min)."""
    # Managed databases: the servers tenants' databases live on (unset: that engine is refused),
    # e.g. postgresql://admin:pw@db:5432/postgres and redis://admin:pw@cache:6379/0.
    postgres_admin_url: SecretStr | None = None
    """Server managed PostgreSQL databases live on; unset: refused."""
    redis_admin_url: SecretStr | None = None
    """Server managed Redis databases live on; unset: refused."""
    backup_interval_hours: float = Field(24.0, ge=0)  # PostgreSQL backups; 0: only on demand
    """Hours between PostgreSQL backups; 0: on demand only."""
    # Backups go to an S3-compatible bucket when one is set (else to the data dir). Endpoint
    # unset: AWS; keys unset: boto3's own chain (environment, profile, instance role).
    backup_s3_bucket: str | None = None
    """S3-compatible bucket for backups; unset: the data dir."""
    backup_s3_endpoint: str | None = (
        None  # e.g. http://minio:9000, https://<id>.r2.cloudflarestorage.com
    )
    """The bucket's server, e.g. http://minio:9000; unset: AWS."""
    backup_s3_region: str = "us-east-1"
    """The bucket's region."""
    backup_s3_prefix: str = "skyforge-backups/"
    """Folder of the bucket backups go in."""
    backup_s3_access_key_id: SecretStr | None = None
    """The bucket's key id; unset: boto3's own chain."""
    backup_s3_secret_access_key: SecretStr | None = None
    """The bucket's secret key; unset: boto3's own chain."""
    # Secure defaults of the HTTP API.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # "https://a,..."
    """Origins allowed to call the API from a browser, comma-separated."""
    max_body_bytes: int = Field(1_048_576, ge=0)
    """Largest request body the API accepts."""
    # Slow clients (see api/deadlines.py): a request's headers must arrive within
    # header_timeout (the API and the edge), its body within body_timeout on the API (plus a
    # second per 64 KiB received, for big git pushes); the edge gives a whole request (headers
    # and body) edge_body_timeout, and closes a kept-alive connection idle for edge_idle_timeout.
    header_timeout: float = Field(10.0, gt=0)
    """Seconds a request's headers may take to arrive (API and edge)."""
    body_timeout: float = Field(60.0, gt=0)
    """Seconds a request's body may take on the API (+1 s per 64 KiB)."""
    edge_body_timeout: float = Field(60.0, gt=0)
    """Seconds a whole request may take at the edge."""
    edge_idle_timeout: float = Field(120.0, gt=0)
    """Seconds the edge keeps an idle kept-alive connection."""
    # A long response (a log stream, SSE) checks its caller's access again this often, and
    # ends once it is gone (a token revoked, a session logged out, a member removed).
    stream_recheck_seconds: float = Field(2.0, gt=0)
    """How often a long response re-checks its caller's access."""
    rate_api_burst: int = Field(300, ge=1)  # per token (and a ceiling per client address)
    """API requests a token may burst."""
    rate_api_per_second: float = Field(5.0, gt=0)
    """API requests per second a token gets back."""
    rate_auth_burst: int = Field(20, ge=1)  # login, sign-up, refresh, token creation: per address
    """Login and token requests an address may burst."""
    rate_auth_per_second: float = Field(1 / 3, gt=0)
    """Login and token requests per second an address gets back."""
    rate_ip_burst: int = Field(1200, ge=1)
    """Requests an address may burst."""
    rate_ip_per_second: float = Field(20.0, gt=0)
    """Requests per second an address gets back."""
    # Custom domains (see README, "Custom domains").
    platform_domain: str | None = None  # the platform's own suffix: no custom domain under it
    """The platform's own domain suffix: no custom domain under it."""
    allow_wildcard_domains: bool = False  # "*.example.com" (verified by DNS only)
    """Allow *.example.com custom domains (verified by DNS only)."""
    edge_https_port: int | None = Field(None, ge=1, le=65535)  # unset: custom domains plain HTTP
    """HTTPS port for custom domains; unset: plain HTTP."""
    acme_email: str | None = None
    """ACME account for public certificates; unset: Caddy's local CA."""
    dns_nameservers: Annotated[list[str], NoDecode] = Field(default_factory=list)  # default: OS's
    """Name servers for the TXT check, comma-separated; unset: the system's."""
    dns_port: int = Field(53, ge=1, le=65535)
    """Port of those name servers."""
    verify_connect_to: str | None = None  # local setups: connect here for the HTTP token check
    """Local setups: the HTTP token check connects here instead."""
    verify_http_port: int | None = Field(None, ge=1, le=65535)  # default: the edge port
    """Port of the HTTP token check; unset: the edge port."""
    # Outgoing webhooks (see README, "Webhooks"): targets on loopback, private, link-local or
    # metadata addresses are refused unless allowed here (e.g. 10.0.0.0/8,127.0.0.1/32).
    webhook_allow_private: bool = False
    """Allow webhooks to loopback and private addresses."""
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Networks webhooks may reach anyway, e.g. 10.0.0.0/8."""
    webhook_timeout: float = Field(10.0, gt=0)
    """Seconds a webhook delivery may take."""
    webhook_retry_base_seconds: float = Field(10.0, gt=0)  # then x3 per attempt, with jitter
    """First retry delay of a webhook (then x3, with jitter)."""
    webhook_max_attempts: int = Field(8, ge=1, le=30)
    """Attempts per webhook delivery."""
    # Git sources (see README, "Git sources"): network sources follow the webhooks' address
    # policy above; local paths and file:// only under these directories ("/srv/git,/opt/
    # repos"), or for organization admins. The data dir never, even if listed.
    local_source_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    """Directories local-path git sources may come from, comma-separated."""
    # App logs (see README, "App logs"): what each service keeps, in all, before its oldest
    # files go; drains to loopback/private addresses only when allowed (local setups, tests).
    log_retention_bytes: int = Field(64 << 20, ge=1 << 16)
    """Bytes of app logs kept per service."""
    log_drain_allow_private: bool = False
    """Allow log drains to loopback and private addresses."""

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
