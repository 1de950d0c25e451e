from dataclasses import dataclass

from skyforge.kernel.messages import Command


@dataclass(frozen=True)
class CreateProject(Command):
    name: str
    owner_id: str = ""  # the user who becomes its owner


@dataclass(frozen=True)
class DeleteProject(Command):
    name: str
