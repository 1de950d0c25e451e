"""The SQL schema (SQLAlchemy Core). Alembic migrations under migrations/ create it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

ID = String(26)


def _fk(table: str) -> ForeignKey:
    return ForeignKey(f"{table}.id", ondelete="CASCADE")


users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("org_role", String(20), nullable=False),
    Column("password_hash", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

user_identities = Table(
    "user_identities",
    metadata,
    Column("issuer", String(500), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", ID, _fk("users"), nullable=False),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(254), nullable=False, index=True),
    Column("org_role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("invited_by", ID, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("user_id", ID, _fk("users")),
    Column("scope", String(10), nullable=False, server_default="admin"),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("family_id", ID, nullable=False, index=True),
    Column("user_id", ID, _fk("users"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", ID, primary_key=True),
    Column("alg", String(20), nullable=False),
    Column("sealed_private_jwk", LargeBinary, nullable=False),  # never in plaintext
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retire_at", DateTime(timezone=True), nullable=False),
    Column("expire_at", DateTime(timezone=True), nullable=False),
)

oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("id", ID, primary_key=True),
    Column("state_hash", String(64), nullable=False, unique=True),
    Column("nonce", String(200), nullable=False),
    Column("code_verifier", String(200), nullable=False),
    Column("poll_hash", String(64), unique=True),
    Column("user_id", ID, _fk("users")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("error", String(500)),
)

memberships = Table(
    "memberships",
    metadata,
    Column("project_id", ID, _fk("projects"), primary_key=True),
    Column("user_id", ID, _fk("users"), primary_key=True, index=True),
    Column("role", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("actor_id", ID, nullable=False),
    Column("via", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(255), nullable=False),
    Column("project", String(63), index=True),
    Column("diff", JSON, nullable=False),
    Column("ip", String(64)),
    Column("user_agent", String(500)),
    Column("request_id", String(64)),
)

# Failed logins by account (a digest, never the e-mail) and by client address, and the locks
# they set: kept here when there is no Redis, so that a restart forgets neither.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("forget_at", DateTime(timezone=True), nullable=False),  # failures count until then
    Column("blocked_until", DateTime(timezone=True)),
)

projects = Table(
    "projects",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "name"),
)

services = Table(
    "services",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("project_name", String(63), nullable=False),
    Column("environment_id", ID, _fk("environments"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("git_url", Text, nullable=False),  # never with credentials: those are sealed
    Column("git_credentials", LargeBinary),  # `user[:password]`, sealed under the master keys
    Column("branch", String(255), nullable=False),
    Column("scale", JSON, nullable=False),
    Column("health_check_path", String(255)),
    Column("resources", JSON),
    Column("boot_timeout", Integer),  # seconds; NULL: the operator's default
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # +1 at every change of the config vars: the env's ETag.
    Column("config_version", Integer, nullable=False, server_default="0"),
    # A preview of a pull request from a fork: no secret ever reaches it.
    Column("withhold_secrets", Boolean, nullable=False, server_default="0"),
    # The edge answers a maintenance page for it; its processes keep running.
    Column("maintenance", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("project_id", "name"),
)

config_vars = Table(
    "config_vars",
    metadata,
    Column("service_id", ID, _fk("services"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

# Secrets: a row per name (kept as a tombstone after a delete, so versions are never reused),
# and its versions, only ever encrypted (see adapters/crypto/envelope.py).
secrets = Table(
    "secrets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("project_name", String(63), nullable=False),
    Column("name", String(255), nullable=False),
    Column("service_id", ID, _fk("services")),  # NULL: every service of the project
    Column("service_name", String(63)),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    UniqueConstraint("project_id", "name"),
)

secret_versions = Table(
    "secret_versions",
    metadata,
    Column("secret_id", ID, _fk("secrets"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key_id", String(64), nullable=False, index=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

builds = Table(
    "builds",
    metadata,
    Column("id", ID, primary_key=True),
    Column("service_id", ID, _fk("services"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("commit", String(64)),
    Column("stack", String(20)),
    Column("slug_dir", Text),
    Column("process_types", JSON),
    Column("env", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

releases = Table(
    "releases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("service_id", ID, _fk("services"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("build_id", ID, _fk("builds"), nullable=False),
    Column("config", JSON, nullable=False),
    Column("secrets", JSON),  # NAME -> version: references, never values
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("service_id", "version"),
)

deploys = Table(
    "deploys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("service_id", ID, _fk("services"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("build_id", ID),
    Column("release_id", ID),
    Column("target_release_id", ID),
    # A config deploy's snapshot of the config vars it releases (the name predates that use).
    Column("config_changes", JSON),
    Column("error", Text),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # A pushed commit (git push, provider hook) instead of the service's source.
    Column("source_url", String(2048)),
    Column("source_branch", String(255)),
    Column("source_commit", String(64)),
    Column("process", String(30)),  # a restart's one process type
)

deploy_logs = Table(
    "deploy_logs",
    metadata,
    Column("deploy_id", ID, _fk("deploys"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("line", Text, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("subject_id", ID, nullable=False),
    Column("serial_key", String(100), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_by", String(100)),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    # W3C trace context of the request that queued the job: its run continues that trace.
    Column("traceparent", String(64)),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True),
    Column("type", String(100), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), index=True),
    Column("actor", String(320)),  # who caused it; NULL when SkyForge itself did
)

# Custom domains: a hostname is claimed once per project; the first claim verified is the only
# one ready (the edge routes it), platform-wide.
domains = Table(
    "domains",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("project_name", String(63), nullable=False),
    Column("service_id", ID, _fk("services"), nullable=False, index=True),
    Column("service_name", String(63), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("token", String(128), nullable=False),
    Column("redirect_https", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("verified_at", DateTime(timezone=True)),
    UniqueConstraint("hostname", "project_id", name="uq_domains_hostname_project"),
    Index(
        "uq_domains_ready_hostname",
        "hostname",
        unique=True,
        sqlite_where=text("status = 'ready'"),
        postgresql_where=text("status = 'ready'"),
    ),
)

# Managed databases: the connection URL only ever sealed (envelope, the secrets' master keys).
databases = Table(
    "databases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("project_name", String(63), nullable=False),
    Column("name", String(63), nullable=False),
    Column("engine", String(20), nullable=False),
    Column("resource", String(63), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("sealed", LargeBinary),
    Column("restore_from", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "name"),
)

database_attachments = Table(
    "database_attachments",
    metadata,
    Column("database_id", ID, _fk("databases"), primary_key=True),
    Column("service_name", String(63), primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("var", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("project_id", "var"),
)

# Inbound git-provider hooks (GitHub, GitLab): the secret sealed (GitHub signs with it) or
# hashed (GitLab sends it back as is); delivery ids seen, to refuse replays.
inbound_hooks = Table(
    "inbound_hooks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("project_name", String(63), nullable=False),
    Column("service_id", ID, _fk("services"), nullable=False, index=True),
    Column("service_name", String(63), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("sealed", LargeBinary),
    Column("secret_hash", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

inbound_deliveries = Table(
    "inbound_deliveries",
    metadata,
    Column("hook_id", ID, _fk("inbound_hooks"), primary_key=True),
    Column("delivery_id", String(128), primary_key=True),
    Column("event", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# A preview service per open pull/merge request; goes with the preview or its parent.
previews = Table(
    "previews",
    metadata,
    Column("service_id", ID, _fk("services"), primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("parent_service_id", ID, _fk("services"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("parent_service_id", "number"),
)

# Outgoing webhooks: the signing secret only ever sealed (envelope, the secrets' master keys).
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project_id", ID, _fk("projects"), nullable=False),
    Column("project_name", String(63), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One per (webhook, event); claimed with a lease by a delivery worker when due.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("webhook_id", ID, _fk("webhooks"), nullable=False),
    Column("project_name", String(63), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), index=True),
    Column("locked_by", String(100)),
    Column("locked_until", DateTime(timezone=True)),
    Column("response_code", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
    Column("log", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("webhook_id", "event_id"),
)

# Log drains: where a service's app output is forwarded, and how far forwarding got. Only one
# replica forwards a drain at a time: it holds the row's lease (locked_by, locked_until).
log_drains = Table(
    "log_drains",
    metadata,
    Column("id", ID, primary_key=True),
    Column("service_id", ID, _fk("services"), nullable=False, index=True),
    Column("project_name", String(63), nullable=False),
    Column("service_name", String(63), nullable=False),
    Column("sealed_url", LargeBinary, nullable=False),  # it may carry a token: never plain
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("cursor", Text),
    Column("delivered", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_error", Text),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("locked_by", String(100)),
    Column("locked_until", DateTime(timezone=True)),
)

# Idempotency-Key: a caller's POST and the answer it got (status NULL: still running), replayed
# to the same caller for the same key; the body sealed under the secrets' master keys.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", String(64), primary_key=True),  # a digest of the user's id
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # method, path, query and body
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("status", Integer),
    Column("headers", JSON),
    Column("body", LargeBinary),
)
