"""CaddyEdge: the edge router on a Caddy process, configured only through its admin API.

The admin API listens on a unix socket in the data dir, so instances never clash on a port.
Every admin change is a full reload that resets idle keep-alive connections of all apps (see
NOTES.md), so the config only changes when routes are added or removed (or a route outgrows
its slots, see caddy_config): upstream addresses live in per-slot files that Caddy reads per
request, so rollouts, scaling and a route's first release just replace those files.
The desired state is kept in data_dir/edge/state.json, so a control plane that was killed
and restarted adopts the running Caddy with a byte-identical config: no reload at all.
With an HTTPS port, hostnames of routes asking for TLS are also served there (see caddy_tls);
adding or removing one reloads, as adding a route does. Ownership tokens are files under
data_dir/edge-tokens, read per request like the slots: registering one never reloads.

The router is SkyForge's alone: its sockets, slot files and state live in folders only the
control plane's user can enter, and `repair()` (called by the reconciler every pass) puts back
a config, a slot file or a Caddy process that differs from what SkyForge wants.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from pathlib import Path

import httpx

from skyforge.edge import caddy_config, caddy_state, caddy_tls, validate
from skyforge.edge.base import Route
from skyforge.edge.caddy_config import (
    bootstrap_config,
    build_config,
    differences,
    encode,
    unix_address,
    unix_listen,
)
from skyforge.edge.caddy_process import (
    CaddyError,
    CaddyProcess,
    find_binary,
    listening_sockets,
    read_pidfile,
    serves_certificate,
    spawn,
    write_pidfile,
)
from skyforge.kernel.errors import Invalid

__all__ = ["CaddyEdge", "CaddyError"]

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
CERT_TIMEOUT = 5.0  # for the internal CA, which signs in milliseconds
ADMIN_PATIENCE = 2.0  # how long a repair waits for the admin socket before replacing Caddy
REPAIR_PARTS = ("config", "process", "slots")


class CaddyEdge:
    """The EdgeRouter on Caddy: routes `{hostname}` on edge_host:edge_port to loopback upstreams."""

    def __init__(
        self,
        data_dir: Path,
        edge_port: int,
        edge_host: str = "127.0.0.1",
        *,
        https_port: int | None = None,
        acme_email: str | None = None,
        acme_ca: str | None = None,
        binary: Path | None = None,
        timeouts: caddy_config.ServerTimeouts | None = None,
    ) -> None:
        data_dir = data_dir.resolve()  # absolute: its paths go into the config
        # Braces and backslashes would be read as placeholders, "|" as a unix socket's mode.
        if any(char in str(data_dir) for char in "{}\\|"):
            raise Invalid(f"data dir {data_dir} must not contain '{{', '}}', '\\' or '|'")
        self.data_dir = data_dir
        self.admin_socket = validate.socket_path(data_dir / "run" / "caddy-admin.sock")
        # Caddy's own 503 server, which the slots of a route without upstreams point at.
        self.unavailable_socket = validate.socket_path(data_dir / "run" / "edge-unavailable.sock")
        self._unavailable = unix_address(self.unavailable_socket)
        # ... and its maintenance page, for the slots of a route in maintenance.
        self.maintenance_socket = validate.socket_path(data_dir / "run" / "edge-maintenance.sock")
        self._maintenance = unix_address(self.maintenance_socket)
        # ... and its scaled-to-0 page, for the empty slots of a route scaled to 0.
        self.scaled_socket = validate.socket_path(data_dir / "run" / "edge-scaled.sock")
        self._scaled = unix_address(self.scaled_socket)
        self.log_path = data_dir / "logs" / "caddy.log"
        self.edge_host, self.edge_port = edge_host, edge_port
        self.https_port = https_port  # None: no HTTPS listener, every host plain HTTP
        self.adopted = False  # whether start() found a Caddy already running and kept it
        self._binary = binary
        self._listen = (
            f"[{edge_host}]:{edge_port}" if ":" in edge_host else f"{edge_host}:{edge_port}"
        )
        self._pidfile = data_dir / "run" / "caddy.pid"
        self._edge_dir = data_dir / "edge"
        # Two levels down: a Host of ".." makes Caddy look in edge-tokens/, which holds no token.
        self.tokens_dir = data_dir / "edge-tokens" / "hosts"
        self._https = caddy_tls.settings(
            data_dir, edge_host, edge_port, https_port, acme_email=acme_email, acme_ca=acme_ca
        )
        self._awaited: set[str] = set()  # TLS hostnames whose certificate was waited for
        self._state_file = self._edge_dir / "state.json"
        self._state = caddy_state.EdgeState()
        self._process: CaddyProcess | None = None
        self._client: httpx.AsyncClient | None = None
        self._loaded: bytes | None = None  # the config Caddy runs, as we last sent it
        self._configured = False  # whether this Caddy process got its config once
        self._slots_written: set[str] = set()  # keys whose slot files match the state
        self._repairs: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._timeouts = timeouts or caddy_config.ServerTimeouts()  # slow clients

    @property
    def pid(self) -> int | None:
        """The pid of the Caddy process, while started."""
        return self._process.pid if self._process else None

    @property
    def routes(self) -> list[Route]:
        """The routed hosts (hostnames lowercased), by key."""
        return self._state.route_list()

    @property
    def ca_root(self) -> Path:
        """The root certificate of Caddy's internal CA, which clients trust for local HTTPS."""
        return caddy_tls.ca_root(caddy_tls.storage_dir(self.data_dir))

    @property
    def upstreams(self) -> dict[str, list[str]]:
        """The upstream addresses of each key."""
        return {key: list(addresses) for key, addresses in self._state.upstreams.items()}

    async def start(self) -> None:
        """Adopt the Caddy a previous control plane left on this data dir, or start one."""
        if self._process is not None:
            return
        for folder in (self.admin_socket.parent, self._edge_dir, self.tokens_dir.parent):
            caddy_state.private_dir(folder)
        caddy_state.private_dir(self.data_dir / "caddy")  # its CA's keys, among others
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._state = caddy_state.load(self._state_file) or self._state
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
                self._check_sockets()
        except BaseException:
            await self._shutdown(stop=not self.adopted)
            raise

    async def close(self) -> None:
        """Stop Caddy (the routes and upstreams stay on disk for the next start)."""
        await self._shutdown(stop=True)

    async def set_routes(self, routes: list[Route]) -> None:
        """Make the routed set of hosts exactly `routes`; reload Caddy only if that changes."""
        desired = validate.routes(routes)
        tls, redirect = validate.secure_hostnames(routes)
        maintenance = tuple(sorted(r.key for r in routes if r.maintenance and r.key in desired))
        scaled = tuple(sorted(r.key for r in routes if r.scaled_to_zero and r.key in desired))
        async with self._lock:
            state = self._state
            if (desired, tls, redirect) != (state.routes, state.tls, state.redirect_https):
                state.routes, state.tls, state.redirect_https = desired, tls, redirect
                state.size_slots()
                self._save()
            if (maintenance, scaled) != (state.maintenance, state.scaled_to_zero):
                # Slot files only: Caddy reads them per request, so no reload.
                changed = set(maintenance) ^ set(state.maintenance)
                changed |= set(scaled) ^ set(state.scaled_to_zero)
                state.maintenance, state.scaled_to_zero = maintenance, scaled
                self._save()
                for key in sorted(changed & state.slots.keys()):
                    self._write_slots(key)
            await self._apply()

    async def set_verification_tokens(self, tokens: dict[str, str]) -> None:
        """Serve exactly these tokens ({hostname: token}): files, so no reload."""
        valid = validate.tokens(tokens)
        async with self._lock:
            caddy_state.write_tokens(self.tokens_dir, valid)

    async def set_upstreams(self, key: str, addresses: list[str]) -> None:
        """Point the route's slots at `addresses`; reload Caddy only if it outgrows its slots."""
        key = validate.route_key(key)
        new = [validate.upstream_address(address) for address in addresses]
        async with self._lock:
            slots = self._state.slots.get(key)
            self._state.upstreams[key] = new
            self._state.size_slots()
            if key in self._state.slots:
                # Files first: Caddy reads them per request, whichever config it runs right now
                # (when the slots grow, the old config reads the first of them until reloaded).
                self._write_slots(key)
            self._save()
            if self._state.slots.get(key) != slots:
                await self._apply()

    async def repair(self) -> list[str]:
        """Put back whatever differs from the desired state; the parts repaired (none: all matched).

        "process": Caddy was dead or no longer answered on its socket (its admin endpoint was
        moved or turned off), so a new one runs the desired config; "config": Caddy ran another
        config (a route added through its admin API, ...), which is replaced by the desired one;
        "slots": a slot file pointed elsewhere and is written again. When everything matches,
        nothing is loaded: a reload would reset every app's keep-alive connections.
        """
        async with self._lock:
            if self._client is None:
                return []  # not started
            found: dict[str, str] = {}
            live = await self._live_config()
            if live is None:
                found["process"] = "caddy did not answer on its admin socket: started again"
                await self._replace_process()
            elif paths := differences(live, json.loads(self._desired_config()))[:5]:
                found["config"] = f"its config differed at {', '.join(paths)}: reloaded"
                self._loaded = None  # so _apply loads it again
            rewritten = self._rewrite_slots()
            if rewritten:
                found["slots"] = f"{rewritten} slot file(s) pointed elsewhere: written again"
            await self._apply()
            self._check_sockets()
        for part, what in found.items():
            self._repairs[part] += 1
            log.warning("edge router differed from what SkyForge wants: %s", what)
        return sorted(found)

    def state(self) -> str | None:
        """ "ok" while Caddy runs the desired config, "down" while it is dead or being started
        again (until the config is loaded); None when not started. Reads /proc only."""
        if self._client is None:
            return None
        if self._process is None or not self._process.alive() or not self._configured:
            return "down"
        return "ok"

    def repairs(self) -> dict[str, int]:
        """How many times each part was repaired since this process started ("process": Caddy
        was started again)."""
        return {part: self._repairs[part] for part in REPAIR_PARTS}

    async def metrics_text(self) -> str | None:
        """Caddy's Prometheus metrics (per host, see caddy_config), read on the admin socket."""
        if self._client is None:
            return None
        response = await self._admin("GET", "/metrics", within=0.5)
        return response.text if response is not None and response.status_code == 200 else None

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
        boot = bootstrap_config(self.admin_socket, self.log_path)
        caddy_state.replace(bootstrap, encode(boot).decode())
        home = self.data_dir / "caddy"
        for folder in ("home", "data", "config", "cache"):
            (home / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        binary = self._binary or find_binary()
        process = spawn(binary, bootstrap, self.log_path, home, unix_listen(self.admin_socket))
        write_pidfile(self._pidfile, process)
        self._process = process  # so a failed start stops it
        self._configured = False
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

    async def _replace_process(self) -> None:
        """Stop the Caddy we know of (it may hold the edge ports) and start a new one."""
        if self._process is not None:
            await self._process.stop()
        self._process, self._loaded = None, None
        self._slots_written.clear()
        self._process = await self._spawn()

    async def _live_config(self) -> object | None:
        """The config Caddy runs (one admin request); None when it is dead or does not answer."""
        if self._process is None or not self._process.alive():
            return None
        response = await self._admin("GET", "/config/", within=ADMIN_PATIENCE)
        if response is None:
            return None
        try:
            # Compared as JSON: Caddy writes it back in its own encoding ("<" as "\u003c"...).
            return response.json() if response.status_code == 200 else response.text
        except ValueError:
            return response.text

    def _rewrite_slots(self) -> int:
        """Write again every slot file that differs from the state; how many were."""
        written = sum(
            caddy_state.write_slots(
                self._edge_dir, self._state, key, self._unavailable, self._maintenance, self._scaled
            )
            for key in self._state.slots
        )
        self._slots_written |= self._state.slots.keys()
        return written

    def _check_sockets(self) -> None:
        for sock in (
            self.admin_socket,
            self.unavailable_socket,
            self.maintenance_socket,
            self.scaled_socket,
        ):
            caddy_state.check_private_socket(sock)

    def _desired_config(self) -> bytes:
        return encode(
            build_config(
                admin_socket=self.admin_socket,
                listen=self._listen,
                unavailable_socket=self.unavailable_socket,
                maintenance_socket=self.maintenance_socket,
                scaled_socket=self.scaled_socket,
                edge_dir=self._edge_dir,
                routes=self._state.routes,
                slots=self._state.slots,
                tls=self._state.tls,
                timeouts=self._timeouts,
                redirect_https=self._state.redirect_https,
                https=self._https,
                tokens_dir=self.tokens_dir,
                log_file=self.log_path,
            )
        )

    async def _apply(self) -> None:
        """Load the config built from the desired state, unless Caddy already runs exactly it."""
        config = self._desired_config()
        if self._client is None or config == self._loaded:
            return  # not started (start() loads it), or nothing changed
        for key in self._state.slots.keys() - self._slots_written:
            self._write_slots(key)  # a new route's slots must be there before its config
        response = await self._admin("POST", "/load", config, within=START_TIMEOUT)
        if response is None:
            raise CaddyError(f"caddy does not answer on {self.admin_socket}")
        if response.status_code != 200:
            if "address already in use" in response.text:
                listens = [self._listen, *([self._https.listen] if self._https else [])]
                raise CaddyError(f"an edge port ({', '.join(listens)}) is already in use")
            raise CaddyError(f"caddy rejected the config: {response.text.strip()}")
        self._loaded = config
        self._configured = True
        caddy_state.remove_unused_slots(self._edge_dir, self._state)
        self._slots_written &= self._state.slots.keys()
        await self._settle()
        await self._await_certificates()

    async def _settle(self) -> None:
        """Wait (briefly) until the listeners of the replaced config are closed."""
        # A reload binds a new SO_REUSEPORT socket and closes the old one just after /load
        # answers; a connection the kernel queued on the old one then is reset. Returning only
        # once it is gone keeps the caller's next request (a health check, a test) out of it.
        deadline = time.monotonic() + 1.0
        for port in (self.edge_port, self.https_port):
            while port is not None and time.monotonic() < deadline:
                if listening_sockets(self.edge_host, port) <= 1:
                    break
                await asyncio.sleep(0.005)

    async def _await_certificates(self) -> None:
        """Return once new TLS hostnames are served (Caddy has the certificates signed async)."""
        if self._https is None:
            return
        self._awaited &= set(self._state.tls)
        # The internal CA's only, each once: ACME can take minutes, or fail for good.
        for name in caddy_tls.internal_names(self._https, self._state.tls):
            if name in self._awaited:
                continue
            self._awaited.add(name)
            port, ca = self._https.port, self.ca_root
            if not await serves_certificate(self.edge_host, port, name, ca, within=CERT_TIMEOUT):
                log.warning("caddy serves no certificate for %s: %s", name, self._log_tail())

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
            self.unavailable_socket.unlink(missing_ok=True)
            self.maintenance_socket.unlink(missing_ok=True)
            self.scaled_socket.unlink(missing_ok=True)
        if self._client is not None:
            await self._client.aclose()
        self._process, self._client, self._loaded = None, None, None
        self._awaited.clear()
        self._slots_written.clear()  # checked again on the next start, whoever wrote them since

    def _write_slots(self, key: str) -> None:
        caddy_state.write_slots(
            self._edge_dir, self._state, key, self._unavailable, self._maintenance, self._scaled
        )
        self._slots_written.add(key)

    def _save(self) -> None:
        caddy_state.save(self._state_file, self._state)

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text().strip().splitlines()[-lines:])
        except FileNotFoundError:
            return f"no log at {self.log_path}"
