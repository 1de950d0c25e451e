"""What a drain sends: RFC 5424 syslog messages (RFC 6587 octet counting on streams), NDJSON
lines, or a Loki push body. Pure functions over `Record`s."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_PRI = 8 * 1 + 6  # facility user-level, severity informational
_PRINTABLE = re.compile(r"[^!-~]")  # RFC 5424 header fields: printable US-ASCII, no spaces
UDP_MAX = 2048  # RFC 5426: every receiver takes this much; longer datagrams may be dropped


@dataclass(frozen=True)
class Record:
    """One app output line as it leaves SkyForge."""

    time: float  # unix seconds
    project: str
    service: str
    release: str  # "v3" (or the release id when its number is unknown)
    process: str  # "web.1"
    line: str


def _field(value: str, limit: int) -> str:
    return _PRINTABLE.sub("_", value)[:limit] or "-"


def syslog_message(record: Record) -> bytes:
    """`<14>1 2026-11-25T01:22:08.123Z web.shop web.1 v3 - - the line` (RFC 5424)."""
    stamp = datetime.fromtimestamp(record.time, UTC).isoformat(timespec="milliseconds")
    header = " ".join(
        [
            f"<{_PRI}>1",
            stamp.replace("+00:00", "Z"),
            _field(f"{record.service}.{record.project}", 255),
            _field(record.process, 48),
            _field(record.release, 128),
            "-",  # MSGID
            "-",  # STRUCTURED-DATA
        ]
    )
    return f"{header} {record.line}".encode("utf-8", "replace")


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: `<length> <message>`."""
    return str(len(message)).encode() + b" " + message


def datagram(message: bytes) -> bytes:
    return message[:UDP_MAX]


def ndjson(records: list[Record]) -> bytes:
    """One JSON object per line."""
    return b"".join(json.dumps(_doc(r)).encode() + b"\n" for r in records)


def _doc(record: Record) -> dict[str, Any]:
    return {
        "time": datetime.fromtimestamp(record.time, UTC).isoformat(timespec="milliseconds"),
        "project": record.project,
        "service": record.service,
        "release": record.release,
        "process": record.process,
        "line": record.line,
    }


def loki_push(records: list[Record]) -> bytes:
    """Loki's JSON push body: streams by labels, values [["<unix ns>", line], ...] in order."""
    streams: dict[tuple[str, str, str, str], list[list[str]]] = {}
    for r in records:
        labels = (r.project, r.service, r.release, r.process)
        streams.setdefault(labels, []).append([str(round(r.time * 1000) * 1_000_000), r.line])
    body = {
        "streams": [
            {
                "stream": {"project": p, "service": s, "release": rel, "process": proc},
                "values": values,
            }
            for (p, s, rel, proc), values in streams.items()
        ]
    }
    return json.dumps(body).encode()
