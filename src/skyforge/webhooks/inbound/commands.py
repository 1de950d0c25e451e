from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class CreateInboundHook(Command):
    project: str
    service: str
    provider: str  # github or gitlab


@dataclass(frozen=True)
class DeleteInboundHook(Command):
    project: str
    service: str
    hook_id: str


@dataclass(frozen=True)
class ReceiveDelivery(Command):
    """A request posted to a hook's URL: not yet verified."""

    hook_id: str
    headers: tuple[tuple[str, str], ...]  # lower-case names
    body: bytes
