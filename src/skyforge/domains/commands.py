from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class AddDomain(Command):
    project: str
    service: str
    hostname: str
    redirect_https: bool = False


@dataclass(frozen=True)
class VerifyDomain(Command):
    project: str
    service: str
    hostname: str


@dataclass(frozen=True)
class RemoveDomain(Command):
    project: str
    service: str
    hostname: str
