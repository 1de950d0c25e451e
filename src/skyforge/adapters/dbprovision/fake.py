"""An in-memory Provisioner for fast tests, with the same names, errors and credentials."""

from __future__ import annotations

from skyforge.adapters.dbprovision.base import Credentials
from skyforge.adapters.dbprovision.names import check_prefix, managed_name
from skyforge.adapters.dbprovision.passwords import new_password
from skyforge.kernel.errors import Conflict, NotFound


class FakeProvisioner:
    """Remembers names and passwords; `engine` picks the URL scheme ("postgresql" or "redis")."""

    def __init__(self, *, prefix: str = "sf_", engine: str = "postgresql") -> None:
        self.prefix = check_prefix(prefix)
        self.engine = engine
        self.passwords: dict[str, str] = {}

    def name(self, name: object) -> str:
        """Return name when it is a valid managed name, else raise Invalid."""
        return managed_name(name, self.prefix)

    def _credentials(self, name: str) -> Credentials:
        password = self.passwords[name]
        if self.engine == "redis":
            url = f"redis://{name}:{password}@fake.invalid:6379/0"
            return Credentials("fake.invalid", 6379, "0", name, password, url, name + ":")
        url = f"postgresql://{name}:{password}@fake.invalid:5432/{name}"
        return Credentials("fake.invalid", 5432, name, name, password, url)

    async def create(self, name: str) -> Credentials:
        """Remember a new password; Conflict when the name is taken."""
        name = self.name(name)
        if name in self.passwords:
            raise Conflict(f"a database named {name!r} already exists")
        self.passwords[name] = new_password()
        return self._credentials(name)

    async def rotate(self, name: str) -> Credentials:
        """Replace the password; NotFound when there is none."""
        name = self.name(name)
        if name not in self.passwords:
            raise NotFound(f"no database named {name!r}")
        self.passwords[name] = new_password()
        return self._credentials(name)

    async def delete(self, name: str) -> None:
        """Forget the name."""
        self.passwords.pop(self.name(name), None)

    async def exists(self, name: str) -> bool:
        """Whether the name is remembered."""
        return self.name(name) in self.passwords

    async def audit(self) -> list[str]:
        """Nothing weakens isolation in memory."""
        return []
