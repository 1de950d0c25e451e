"""CaddyEdge: the edge router on a Caddy process, configured only through its admin API.

The admin API listens on a unix socket in the data dir, so instances never clash on a port.
Every admin change is a full reload that resets idle keep-alive connections of all apps (see
NOTES.md), so the config only changes when routes or slot counts do: upstream addresses live
in per-slot files that Caddy reads per request, and a rollout just replaces those files.
The desired state is kept in data_dir/edge/state.json, so a control plane that was killed
and restarted adopts the running Caddy with a byte-identical config: no reload at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

import httpx

from skyforge.edge import validate
from skyforge.edge.base import Route
from skyforge.edge.caddy_config import bootstrap_config, build_config, encode, slot_file
from skyforge.edge.caddy_process import (
    CaddyError,
    CaddyProcess,
    find_binary,
    listening_sockets,
    read_pidfile,
    spawn,
    write_pidfile,
)
from skyforge.kernel.errors import Invalid

__all__ = ["CaddyEdge", "CaddyError"]

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
_SUN_PATH_MAX = 107  # bytes in a unix socket path, without the trailing NUL


class CaddyEdge:
    """The EdgeRouter on Caddy: routes `{hostname}` on edge_host:edge_port to loopback upstreams."""

    def __init__(
        self,
        data_dir: Path,
        edge_port: int,
        edge_host: str = "127.0.0.1",
        *,
        binary: Path | None = None,
    ) -> None:
        data_dir = data_dir.resolve()  # absolute: its paths go into the config
        if any(char in str(data_dir) for char in "{}\\"):
            raise Invalid(f"data dir {data_dir} must not contain '{{', '}}' or '\\'")
        self.data_dir = data_dir
        self.admin_socket = data_dir / "run" / "caddy-admin.sock"
        if len(os.fsencode(self.admin_socket)) > _SUN_PATH_MAX:
            raise Invalid(f"data dir {data_dir} is too long for a unix socket path inside it")
        self.log_path = data_dir / "logs" / "caddy.log"
        self.edge_host, self.edge_port = edge_host, edge_port
        self.adopted = False  # whether start() found a Caddy already running and kept it
        self._binary = binary
        self._listen = (
            f"[{edge_host}]:{edge_port}" if ":" in edge_host else f"{edge_host}:{edge_port}"
        )
        self._pidfile = data_dir / "run" / "caddy.pid"
        self._edge_dir = data_dir / "edge"
        self._state_file = self._edge_dir / "state.json"
        self._routes: dict[str, tuple[str, ...]] = {}
        self._upstreams: dict[str, list[str]] = {}
        self._process: CaddyProcess | None = None
        self._client: httpx.AsyncClient | None = None
        self._loaded: bytes | None = None  # the config Caddy runs, as we last sent it
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The pid of the Caddy process, while started."""
        return self._process.pid if self._process else None

    @property
    def routes(self) -> list[Route]:
        """The routed hosts (hostnames lowercased), by key."""
        return [Route(key, names) for key, names in sorted(self._routes.items())]

    @property
    def upstreams(self) -> dict[str, list[str]]:
        """The upstream addresses of each key."""
        return {key: list(addresses) for key, addresses in self._upstreams.items()}

    async def start(self) -> None:
        """Adopt the Caddy a previous control plane left on this data dir, or start one."""
        if self._process is not None:
            return
        for folder in (self.admin_socket.parent, self.log_path.parent, self._edge_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._read_state()
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(self.admin_socket)),
            base_url="http://caddy-admin",
            # Caddy restarts its admin server on every load: never reuse a connection.
            headers={"Connection": "close"},
            timeout=10.0,
        )
        self.adopted = False
        try:
            async with self._lock:
                self._process = await self._adopt() or await self._spawn()
                await self._apply()
        except BaseException:
            await self._shutdown(stop=not self.adopted)
            raise

    async def close(self) -> None:
        """Stop Caddy (the routes and upstreams stay on disk for the next start)."""
        await self._shutdown(stop=True)

    async def set_routes(self, routes: list[Route]) -> None:
        """Make the routed set of hosts exactly `routes`; reload Caddy only if that changes."""
        desired = validate.routes(routes)
        async with self._lock:
            if desired != self._routes:
                self._routes = desired
                self._write_state()
            await self._apply()

    async def set_upstreams(self, key: str, addresses: list[str]) -> None:
        """Point the route's slots at `addresses`; reload Caddy only if their number changes."""
        key = validate.route_key(key)
        new = [validate.upstream_address(address) for address in addresses]
        async with self._lock:
            old = self._upstreams.get(key, [])
            # Files first: Caddy reads them per request, whichever config it runs right now.
            for index, address in enumerate(new):
                _replace(slot_file(self._edge_dir, key, index), address)
            self._upstreams[key] = new
            self._write_state()
            if len(new) != len(old):
                await self._apply()
                # Only now does no config point at the slots that went away.
                for index in range(len(new), len(old)):
                    slot_file(self._edge_dir, key, index).unlink(missing_ok=True)

    async def _adopt(self) -> CaddyProcess | None:
        previous = read_pidfile(self._pidfile)
        if previous is None or not previous.alive():
            return None
        if await self._admin_answers(within=2.0):
            log.info("adopting caddy pid %s", previous.pid)
            self.adopted = True
            return previous
        log.warning(
            "caddy pid %s does not answer on %s: replacing it", previous.pid, self.admin_socket
        )
        await previous.stop()
        return None

    async def _spawn(self) -> CaddyProcess:
        self._pidfile.unlink(missing_ok=True)
        self.admin_socket.unlink(missing_ok=True)
        bootstrap = self.admin_socket.parent / "caddy-bootstrap.json"
        _replace(bootstrap, encode(bootstrap_config(self.admin_socket)).decode())
        home = self.data_dir / "caddy"
        for folder in ("home", "data", "config", "cache"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        process = spawn(self._binary or find_binary(), bootstrap, self.log_path, home)
        write_pidfile(self._pidfile, process)
        self._process = process  # so a failed start stops it
        log.info("started caddy pid %s", process.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not await self._admin_answers(within=0):
            if not process.alive():
                raise CaddyError(f"caddy exited while starting: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise CaddyError(
                    f"caddy did not answer on {self.admin_socket} within {START_TIMEOUT} s"
                )
            await asyncio.sleep(0.05)
        return process

    async def _apply(self) -> None:
        """Load the config built from the desired state, unless Caddy already runs exactly it."""
        config = encode(
            build_config(
                admin_socket=self.admin_socket,
                listen=self._listen,
                edge_dir=self._edge_dir,
                routes=self._routes,
                slots={key: len(addresses) for key, addresses in self._upstreams.items()},
            )
        )
        if self._client is None or config == self._loaded:
            return  # not started (start() loads it), or nothing changed
        response = await self._admin("POST", "/load", config, within=START_TIMEOUT)
        if response is None:
            raise CaddyError(f"caddy does not answer on {self.admin_socket}")
        if response.status_code != 200:
            if "address already in use" in response.text:
                raise CaddyError(f"the edge port {self._listen} is already in use")
            raise CaddyError(f"caddy rejected the config: {response.text.strip()}")
        self._loaded = config
        await self._settle()

    async def _settle(self) -> None:
        """Wait (briefly) until the listener of the replaced config is closed."""
        # A reload binds a new SO_REUSEPORT socket and closes the old one just after /load
        # answers; a connection the kernel queued on the old one then is reset. Returning only
        # once it is gone keeps the caller's next request (a health check, a test) out of it.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if listening_sockets(self.edge_host, self.edge_port) <= 1:
                return
            await asyncio.sleep(0.005)

    async def _admin_answers(self, *, within: float) -> bool:
        response = await self._admin("GET", "/config/", within=within)
        return response is not None and response.status_code == 200

    async def _admin(
        self, method: str, path: str, content: bytes | None = None, *, within: float
    ) -> httpx.Response | None:
        """An admin API request, tried again on connection errors for `within` seconds."""
        # Caddy replaces its admin server after every load and drops connections that reach
        # the old one: a load is idempotent, so trying again is safe.
        assert self._client is not None
        headers = {"Content-Type": "application/json"} if content is not None else {}
        deadline = time.monotonic() + within
        while True:
            try:
                return await self._client.request(method, path, content=content, headers=headers)
            except httpx.TransportError:
                if time.monotonic() >= deadline:
                    return None
            await asyncio.sleep(0.02)

    async def _shutdown(self, *, stop: bool) -> None:
        if self._process is not None and stop:
            await self._process.stop()
            self._pidfile.unlink(missing_ok=True)
            self.admin_socket.unlink(missing_ok=True)
        if self._client is not None:
            await self._client.aclose()
        self._process, self._client, self._loaded = None, None, None

    def _read_state(self) -> None:
        try:
            state = json.loads(self._state_file.read_text())
            routes = [Route(key, tuple(names)) for key, names in state["routes"].items()]
            upstreams = {
                validate.route_key(key): [validate.upstream_address(a) for a in addresses]
                for key, addresses in state["upstreams"].items()
            }
            self._routes, self._upstreams = validate.routes(routes), upstreams
        except FileNotFoundError:
            pass
        except (ValueError, TypeError, KeyError, AttributeError, Invalid) as error:
            # The control plane sets routes and upstreams again as it reconciles.
            log.warning("ignoring unreadable %s: %s", self._state_file, error)

    def _write_state(self) -> None:
        state = {"routes": self._routes, "upstreams": self._upstreams}
        _replace(self._state_file, json.dumps(state, sort_keys=True, indent=1))

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text().strip().splitlines()[-lines:])
        except FileNotFoundError:
            return f"no log at {self.log_path}"


def _replace(path: Path, text: str) -> None:
    """Write a file atomically: readers (Caddy, per request) see the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
