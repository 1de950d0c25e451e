"""CaddyEdge's desired state on disk: edge/state.json, and the slot files Caddy reads.

state.json lets a control plane that was killed and restarted rebuild a byte-identical config,
so that adopting the running Caddy reloads nothing. It holds each routed key's slot count too:
that only ever grows while the route exists, and a count recomputed from scratch could differ.

Whoever could write a slot file would send a hostname's traffic anywhere: every folder here is
private to the control plane (0700, its own), every file 0600, whatever the umask.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from skyforge.edge import validate
from skyforge.edge.base import Route
from skyforge.edge.caddy_config import capacity, slot_dials, slot_file
from skyforge.edge.caddy_process import CaddyError
from skyforge.kernel.errors import Invalid

log = logging.getLogger(__name__)


@dataclass
class EdgeState:
    """Hostnames by key, upstream addresses by key, and the slot count of each routed key."""

    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    upstreams: dict[str, list[str]] = field(default_factory=dict)
    slots: dict[str, int] = field(default_factory=dict)
    tls: tuple[str, ...] = ()  # the routed hostnames served over HTTPS
    redirect_https: tuple[str, ...] = ()  # ... and those of them redirected there
    maintenance: tuple[str, ...] = ()  # the keys whose slots point at the maintenance page
    scaled_to_zero: tuple[str, ...] = ()  # ... and, with no upstreams, at the scaled-to-0 page

    def route_list(self) -> list[Route]:
        """The routes, as given to set_routes, by key."""
        return [
            Route(
                key,
                names,
                tuple(name for name in names if name in self.tls),
                tuple(name for name in names if name in self.redirect_https),
                key in self.maintenance,
                key in self.scaled_to_zero,
            )
            for key, names in sorted(self.routes.items())
        ]

    def size_slots(self) -> None:
        """Give every routed key enough slots for its upstreams, never fewer than it has."""
        self.slots = {
            key: capacity(len(self.upstreams.get(key, [])), self.slots.get(key, 0))
            for key in self.routes
        }


def load(path: Path) -> EdgeState | None:
    """The state saved at `path`; None if there is none or it is unreadable."""
    try:
        saved = json.loads(path.read_text())
        # Absent in states saved before TLS was: plain HTTP, as then.
        tls, redirect = set(saved.get("tls", [])), set(saved.get("redirect_https", []))
        routes = [
            Route(key, tuple(names), _among(names, tls), _among(names, redirect))
            for key, names in saved["routes"].items()
        ]
        state = EdgeState(
            routes=validate.routes(routes),
            upstreams={
                validate.route_key(key): [validate.upstream_address(a) for a in addresses]
                for key, addresses in saved["upstreams"].items()
            },
            # Absent in states saved before slot counts were: recomputed, and Caddy reloads.
            slots={key: _count(count) for key, count in saved.get("slots", {}).items()},
        )
        state.tls, state.redirect_https = validate.secure_hostnames(routes)
        # Absent in states saved before maintenance was: none in maintenance.
        state.maintenance = tuple(
            sorted(k for k in saved.get("maintenance", []) if k in state.routes)
        )
        state.scaled_to_zero = tuple(
            sorted(k for k in saved.get("scaled_to_zero", []) if k in state.routes)
        )
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError, AttributeError, Invalid) as error:
        # The control plane sets routes and upstreams again as it reconciles.
        log.warning("ignoring unreadable %s: %s", path, error)
        return None
    state.size_slots()
    return state


def save(path: Path, state: EdgeState) -> None:
    saved = {
        "routes": state.routes,
        "upstreams": state.upstreams,
        "slots": state.slots,
        "tls": state.tls,
        "maintenance": state.maintenance,
        "scaled_to_zero": state.scaled_to_zero,
        "redirect_https": state.redirect_https,
    }
    replace(path, json.dumps(saved, sort_keys=True, indent=1))


def write_slots(
    edge_dir: Path,
    state: EdgeState,
    key: str,
    unavailable: str,
    maintenance: str | None = None,
    scaled: str | None = None,
) -> int:
    """Point the key's slot files at its upstreams (or the 503 server: the scaled-to-0 one if
    it is scaled to 0, or in maintenance the maintenance server); skip unchanged ones.

    Returns how many files were (re)written: a missing one, or one that differed.
    """
    if maintenance is not None and key in state.maintenance:
        dials = [maintenance] * state.slots[key]
    else:
        empty = scaled if scaled is not None and key in state.scaled_to_zero else unavailable
        dials = slot_dials(state.upstreams.get(key, []), state.slots[key], empty)
    internal = [page for page in (maintenance, scaled) if page]
    written = 0
    for index, dial in enumerate(dials):
        path = slot_file(edge_dir, key, index)
        text = validate.slot_address(dial, unavailable, *internal)
        if read_regular(path) != text:
            replace(path, text)
            written += 1
    return written


def read_regular(path: Path) -> str | None:
    """The text of a regular file; None if it is missing or anything else (a link, a fifo)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read(4096).decode(errors="replace")


def private_dir(path: Path) -> Path:
    """Make `path` a folder only this user can enter (0700); refuse one another user owns."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise CaddyError(f"{path} is not a folder")
    if info.st_uid != os.geteuid():
        # Its owner could swap the sockets and files inside for their own.
        raise CaddyError(f"{path} is owned by uid {info.st_uid}, not by this user: refusing it")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def check_private_socket(path: Path) -> None:
    """Refuse a socket other users could connect to, or that is not this user's."""
    info = path.lstat()
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
        raise CaddyError(f"{path} is not a socket of this user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise CaddyError(f"{path} has mode {stat.S_IMODE(info.st_mode):o}: others could connect")


def remove_unused_slots(edge_dir: Path, state: EdgeState) -> None:
    """Delete the slot files of keys not routed: only once Caddy runs a config without them."""
    # A routed key's count never shrinks, so its files beyond it (left by a lost state.json)
    # are never read: they are left alone.
    for folder in edge_dir.iterdir():
        if folder.is_dir() and folder.name not in state.slots:
            shutil.rmtree(folder, ignore_errors=True)


def replace(path: Path, text: str) -> None:
    """Write a file (0600) atomically: readers (Caddy, per request) see the old or the new one."""
    # Never truncate or delete a slot file in place: a request reading it then gets a 502.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a crash: O_EXCL below never reuses what is there
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def token_file(tokens_dir: Path, hostname: str, token: str) -> Path:
    """Where the edge finds a token: Caddy's file server maps the Host and path onto it."""
    return tokens_dir / hostname / ".well-known" / "skyforge" / token


def write_tokens(tokens_dir: Path, tokens: dict[str, str]) -> None:
    """Make the token files exactly `tokens` (validated): new ones first, then the rest go."""
    wanted = {token_file(tokens_dir, name, token) for name, token in tokens.items()}
    for path in sorted(wanted):
        if read_regular(path) != path.name:
            replace(path, path.name)
    if not tokens_dir.is_dir():
        return
    for host in tokens_dir.iterdir():
        folder = host / ".well-known" / "skyforge"
        files = list(folder.iterdir()) if folder.is_dir() else []
        for path in files:
            if path not in wanted:
                path.unlink(missing_ok=True)
        if not any(path in wanted for path in files):
            shutil.rmtree(host, ignore_errors=True)


def _among(names: list[str], chosen: set[str]) -> tuple[str, ...]:
    return tuple(name for name in names if name in chosen)


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"invalid slot count {value!r}")
    return value
