"""FakeVerifier: an OwnershipVerifier answering from a dict, for tests without network."""

from __future__ import annotations

from skyforge.domains.verification import Check, Outcome


class FakeVerifier:
    def __init__(self, published: dict[str, str] | None = None) -> None:
        self.published = dict(published or {})  # hostname -> the token it publishes
        self.unreachable: set[str] = set()
        self.checked: list[str] = []

    async def verify(self, hostname: str, token: str) -> Check:
        self.checked.append(hostname)
        if hostname in self.unreachable:
            return Check(Outcome.UNREACHABLE, f"{hostname} did not answer")
        if hostname not in self.published:
            return Check(Outcome.MISSING, f"{hostname} publishes no token")
        if self.published[hostname] != token:
            return Check(Outcome.MISMATCH, f"{hostname} publishes a different token")
        return Check(Outcome.VERIFIED, f"{hostname} publishes the token")
