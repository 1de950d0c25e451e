from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class ServiceCreated(Event):
    type: ClassVar[str] = "service.created"
    project: str
    service: str


@dataclass(frozen=True)
class ServiceUpdated(Event):
    type: ClassVar[str] = "service.updated"
    project: str
    service: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ServiceDeleted(Event):
    type: ClassVar[str] = "service.deleted"
    project: str
    service: str


@dataclass(frozen=True)
class ConfigVarsChanged(Event):
    """Only names: values never travel in events."""

    type: ClassVar[str] = "service.config_changed"
    project: str
    service: str
    service_id: str
    names: tuple[str, ...]
    version: int = 0  # the service's config version after the change
