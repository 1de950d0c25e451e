from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class CreateProject(Command):
    name: str


@dataclass(frozen=True)
class DeleteProject(Command):
    name: str
