from dataclasses import dataclass
from typing import ClassVar

from skyforge.kernel.messages import Event


@dataclass(frozen=True)
class InboundHookCreated(Event):
    type: ClassVar[str] = "inbound_hook.created"
    project: str
    service: str
    hook_id: str
    provider: str


@dataclass(frozen=True)
class InboundHookDeleted(Event):
    type: ClassVar[str] = "inbound_hook.deleted"
    project: str
    service: str
    hook_id: str
