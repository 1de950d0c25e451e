"""RouteBook: one edge router fed by two writers, the reconciler and the runtime.

The reconciler declares a route for every service (so one with no release answers 503), the
runtime declares the routes of what it runs; the router gets their union.
"""

from __future__ import annotations

from skyforge.edge.base import EdgeRouter, Route


class RouteBook:
    def __init__(self, edge: EdgeRouter) -> None:
        self.edge = edge
        self._services: dict[str, Route] = {}
        self._runtime: dict[str, Route] = {}
        self._applied: list[Route] | None = None

    async def start(self) -> None:
        await self.edge.start()

    async def close(self) -> None:
        await self.edge.close()

    async def set_service_routes(self, routes: list[Route]) -> None:
        """The reconciler's view: every service that exists."""
        self._services = {r.key: r for r in routes}
        await self._apply()

    async def set_routes(self, routes: list[Route]) -> None:
        """The runtime's view: what it runs (EdgeRouter protocol)."""
        self._runtime = {r.key: r for r in routes}
        await self._apply()

    async def set_upstreams(self, key: str, addresses: list[str]) -> None:
        await self.edge.set_upstreams(key, addresses)

    async def set_verification_tokens(self, tokens: dict[str, str]) -> None:
        await self.edge.set_verification_tokens(tokens)

    async def repair(self) -> list[str]:
        """Put back whatever of the router differs from the routes and upstreams it was given."""
        return await self.edge.repair()

    def state(self) -> str | None:
        """The router's process: "ok", "down" (dead, or being restarted), None (not started,
        or a router without a process of its own, like null)."""
        reader = getattr(self.edge, "state", None)
        state: str | None = reader() if reader is not None else None
        return state

    def repairs(self) -> dict[str, int]:
        """The router's repairs by part (see CaddyEdge.repair), for /metrics; none on null."""
        counter = getattr(self.edge, "repairs", None)
        return dict(counter()) if counter is not None else {}

    def hosts(self) -> dict[str, str]:
        """Routed hostname (lowercase) -> route key, for the edge's per-host metrics."""
        return {name.lower(): r.key for r in self._applied or () for name in r.hostnames}

    async def metrics_text(self) -> str | None:
        """The router's own Prometheus metrics, when it has any (Caddy does; null does not)."""
        reader = getattr(self.edge, "metrics_text", None)
        if reader is None:
            return None
        text: str | None = await reader()
        return text

    async def _apply(self) -> None:
        merged = {**self._runtime, **self._services}
        routes = [merged[k] for k in sorted(merged)]
        if routes != self._applied:
            await self.edge.set_routes(routes)
            self._applied = routes
