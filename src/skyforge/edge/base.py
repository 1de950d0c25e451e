"""The edge router port: HTTP routing from hostnames to the running web instances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Route:
    """Requests for any of `hostnames` go to the upstreams registered under `key`.

    `tls`: those of the hostnames also served over HTTPS (a certificate is obtained for each);
    `redirect_https`: those of `tls` whose plain HTTP requests are redirected to HTTPS. Both are
    hostnames, not flags, as one route mixes generated names (`web.shop.localhost`, plain HTTP
    by contract) with custom domains.
    """

    key: str  # "{project}.{service}"
    hostnames: tuple[str, ...]
    tls: tuple[str, ...] = ()
    redirect_https: tuple[str, ...] = ()
    # In maintenance: every request answers a 503 maintenance page; the app keeps running.
    maintenance: bool = False
    # Scaled to 0 web processes: with no upstreams, the 503 page says so (not "no release").
    scaled_to_zero: bool = False


class EdgeRouter(Protocol):
    async def start(self) -> None:
        """Start (or adopt an already running) router listening on the edge port."""

    async def close(self) -> None:
        """Stop the router."""

    async def set_routes(self, routes: list[Route]) -> None:
        """Make the routed set of hosts exactly `routes` (unknown hosts get a 404 page)."""

    async def set_upstreams(self, key: str, addresses: list[str]) -> None:
        """Send the route's traffic to `addresses` ("127.0.0.1:PORT"), balanced between them.

        Must not drop requests in flight or reset keep-alive client connections when only the
        addresses change (a rollout). An empty list answers with a 503 page.
        """

    async def set_verification_tokens(self, tokens: dict[str, str]) -> None:
        """Serve exactly these ownership tokens ({hostname: token}), routed hostnames or not.

        GET /.well-known/skyforge/<token> with that Host answers 200 and the token, before any
        redirect to HTTPS. Changing them must not reset client connections either.
        """

    async def repair(self) -> list[str]:
        """Put back whatever of the router differs from what it was told; the parts repaired.

        Called every reconcile pass: a route, an upstream or the router's process changed by
        anyone else is restored within a pass. Must not disturb a router that matches.
        """
