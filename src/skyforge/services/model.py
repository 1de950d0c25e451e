"""Services: what to run (source, process scale, health check) and its config vars."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from skyforge.kernel import envnames
from skyforge.kernel.errors import Invalid
from skyforge.kernel.limits import change_limits
from skyforge.kernel.names import dns_label
from skyforge.services.source import shown

_PROCESS_TYPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,254}$")
MAX_VALUE_BYTES = 32 * 1024
# Process types that never run continuously: `release` runs once per release.
ONE_OFF_TYPES = frozenset({"release"})


@dataclass(frozen=True)
class GitSource:
    url: str  # never with credentials: those are `credentials`
    branch: str
    credentials: bytes | None = None  # `user[:password]` of an http(s) URL, sealed

    @property
    def shown(self) -> str:
        """The URL as APIs, events and logs may show it (credentials as `***@`)."""
        return shown(self.url, self.credentials is not None)


def check_var_name(name: str) -> str:
    if not isinstance(name, str) or not envnames.VALID.fullmatch(name):
        raise Invalid(f"config var name {name!r} must match [A-Za-z_][A-Za-z0-9_]*")
    refused = envnames.refusal(name, "config var")
    if refused is not None:
        raise Invalid(refused)
    return name


def check_var_value(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"config var {name} must be a string or null")
    if "\x00" in value or len(value.encode()) > MAX_VALUE_BYTES:
        raise Invalid(f"config var {name} must be under 32 KiB and contain no NUL byte")
    return value


MAX_BOOT_TIMEOUT = 600  # seconds: the longest a service may ask its web processes be waited for


def check_boot_timeout(seconds: int | None) -> int | None:
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not 1 <= seconds <= MAX_BOOT_TIMEOUT
    ):
        raise Invalid(
            f"boot timeout must be a whole number of seconds from 1 to {MAX_BOOT_TIMEOUT}"
        )
    return seconds


def check_health_path(path: str | None) -> str | None:
    if path is not None and not _HEALTH_PATH.fullmatch(path):
        raise Invalid("health check path must be a URL path starting with '/'")
    return path


@dataclass
class Service:
    id: str
    project_id: str
    project: str
    environment_id: str
    name: str
    source: GitSource
    created_at: datetime
    updated_at: datetime
    scale: dict[str, int] = field(default_factory=dict)
    health_check_path: str | None = None  # None: "/"
    config: dict[str, str] = field(default_factory=dict)
    # Its own resource limits (memory_mb, processes, open_files); unset: the operator's.
    resources: dict[str, int] = field(default_factory=dict)
    config_version: int = 0  # +1 at every change of `config`
    # Runs code nobody with access vouched for (a fork's pull request): gets no secret at all.
    withhold_secrets: bool = False
    # How long a new web process may take to answer its health check; None: the operator's.
    boot_timeout: int | None = None
    # The edge answers a 503 maintenance page for it; its processes keep running.
    maintenance: bool = False

    def __post_init__(self) -> None:
        dns_label(self.name, "service name")
        check_health_path(self.health_check_path)
        check_boot_timeout(self.boot_timeout)

    @property
    def key(self) -> str:
        """Its identity in runtimes and the edge router."""
        return f"{self.project}.{self.name}"

    @property
    def hostname(self) -> str:
        return f"{self.name}.{self.project}.localhost"

    @property
    def source_binding(self) -> bytes:
        return self.binding_of(self.id)

    @staticmethod
    def binding_of(service_id: str) -> bytes:
        """Associated data of the sealed source credentials: they cannot move to another
        service."""
        return f"service:{service_id}:source".encode()

    def change_config(self, changes: dict[str, str | None]) -> bool:
        """Apply Heroku-style changes (None unsets); True when anything changed."""
        if not isinstance(changes, dict) or not changes:
            raise Invalid("the body must be a non-empty object of NAME: value or null")
        new = dict(self.config)
        for name, value in changes.items():
            check_var_name(name)
            if value is None:
                new.pop(name, None)
            else:
                new[name] = check_var_value(name, value)
        return self.replace_config(new)

    def replace_config(self, config: dict[str, str]) -> bool:
        """Make `config` the config vars (a rollback brings a release's back); True if changed."""
        if config == self.config:
            return False
        self.config = dict(config)
        self.config_version += 1
        return True

    def change_resources(self, changes: dict[str, int | None]) -> bool:
        """Set (or with None reset) resource limits; True when anything changed."""
        new = change_limits(self.resources, changes)
        changed, self.resources = new != self.resources, new
        return changed

    def change_scale(self, scale: dict[str, int], max_instances: int) -> None:
        """Set instance counts per process type (0 stops a type)."""
        for kind, count in scale.items():
            if not _PROCESS_TYPE.fullmatch(kind) or kind in ONE_OFF_TYPES:
                raise Invalid(f"{kind!r} is not a process type that can be scaled")
            if not isinstance(count, int) or isinstance(count, bool):
                raise Invalid(f"scale of {kind} must be an integer")
            if not 0 <= count <= max_instances:
                raise Invalid(f"scale of {kind} must be between 0 and {max_instances}")
        self.scale = {**self.scale, **scale}

    def count(self, process_type: str) -> int:
        """Instances to run: the set scale, else one of each type."""
        return self.scale.get(process_type, 1)
