"""git's pkt-line framing and the parts of the push protocol SkyForge reads or rewrites.

Pure: bytes in, bytes out. See gitprotocol-common(5), gitprotocol-pack(5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FLUSH = b"0000"
MAX_PAYLOAD = 65515  # side-band-64k: 65520 bytes a packet, minus length and band byte
ZERO = "0" * 40
_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def pkt(payload: bytes) -> bytes:
    """One pkt-line: 4 hex digits of length (itself included), then the payload."""
    return f"{len(payload) + 4:04x}".encode() + payload


def band(channel: int, data: bytes) -> bytes:
    """`data` on a side-band channel (1 data, 2 progress, 3 fatal), split into packets."""
    out = bytearray()
    for start in range(0, max(len(data), 1), MAX_PAYLOAD):
        out += pkt(bytes([channel]) + data[start : start + MAX_PAYLOAD])
    return bytes(out)


def progress(line: str) -> bytes:
    """A line git prints as `remote: <line>`."""
    return band(2, line.rstrip("\n").encode("utf-8", "replace") + b"\n")


class PktReader:
    """Splits a byte stream into pkt-lines; `None` stands for a flush (or delim) packet."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes, *, until_flush: bool = False) -> list[bytes | None]:
        """The complete packets so far; with until_flush, none past the first flush."""
        self.buffer += data
        out: list[bytes | None] = []
        while len(self.buffer) >= 4:
            try:
                size = int(self.buffer[:4], 16)
            except ValueError:
                raise ValueError("not a pkt-line stream") from None
            if size < 4:  # 0000 flush, 0001 delim, 0002 response-end
                del self.buffer[:4]
                out.append(None)
                if until_flush:
                    break
                continue
            if len(self.buffer) < size:
                break
            out.append(bytes(self.buffer[4:size]))
            del self.buffer[:size]
        return out


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return self.new == ZERO or set(self.new) == {"0"}


@dataclass
class PushCommands:
    """The ref updates at the head of a receive-pack request, read as the body streams in."""

    updates: list[RefUpdate] = field(default_factory=list)
    capabilities: frozenset[str] = frozenset()
    done: bool = False
    _reader: PktReader = field(default_factory=PktReader)

    def feed(self, data: bytes) -> None:
        if self.done:
            return
        for line in self._reader.feed(data, until_flush=True):
            if line is None:
                self.done = True  # the pack (or push options) follows: not ours to read
                self._reader = PktReader()
                return
            self._command(line)

    def _command(self, line: bytes) -> None:
        text, _, caps = line.rstrip(b"\n").partition(b"\0")
        if caps and not self.updates:
            self.capabilities = frozenset(caps.decode("ascii", "replace").split())
        parts = text.decode("utf-8", "replace").split(" ")
        if parts[0] in ("shallow", "push-cert"):
            return
        if len(parts) == 3 and _OID.match(parts[0]) and _OID.match(parts[1]):
            self.updates.append(RefUpdate(*parts))

    @property
    def sideband(self) -> bool:
        return "side-band-64k" in self.capabilities or "side-band" in self.capabilities


def rewrite_status(status: bytes, refused: dict[str, str]) -> bytes:
    """Report-status pkt-lines with each `ok <ref>` of `refused` turned into `ng <ref> <why>`."""
    out, skipping = bytearray(), False
    for line in PktReader().feed(status):
        if line is None:
            out += FLUSH
            continue
        text = line.rstrip(b"\n").decode("utf-8", "replace")
        if text.startswith("option ") and skipping:
            continue  # report-status-v2 details of an update that no longer happened
        skipping = False
        if text.startswith("ok ") and text[3:] in refused:
            ref = text[3:]
            line, skipping = f"ng {ref} {refused[ref]}\n".encode(), True
        out += pkt(line)
    return bytes(out)


def accepted(status: bytes) -> set[str]:
    """The refs a report-status says were updated (`unpack ok` and `ok <ref>`)."""
    lines = [ln.rstrip(b"\n").decode("utf-8", "replace") for ln in PktReader().feed(status) if ln]
    if "unpack ok" not in lines:
        return set()
    return {ln[3:] for ln in lines if ln.startswith("ok ")}
