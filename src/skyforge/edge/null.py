"""NullEdge: routes nothing, remembers what it was told (for runtimes without an edge, tests)."""

from __future__ import annotations

from skyforge.edge.base import Route


class NullEdge:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.upstreams: dict[str, list[str]] = {}
        self.tokens: dict[str, str] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def set_routes(self, routes: list[Route]) -> None:
        self.routes = list(routes)

    async def set_upstreams(self, key: str, addresses: list[str]) -> None:
        self.upstreams[key] = list(addresses)

    async def set_verification_tokens(self, tokens: dict[str, str]) -> None:
        self.tokens = dict(tokens)

    async def repair(self) -> list[str]:
        return []
