"""Structured logs: every line of the process is one JSON object (structlog).

SkyForge's own stdlib loggers, uvicorn's and its access log all go through one handler on the
root logger, so nothing prints in another format. Each line carries the request id (inside a
request) and the trace and span ids (inside a recorded span), which is what joins a log line to
its request and its trace. `console` renders the same fields for a human at a terminal; `auto`
(the default) picks console when stderr is a terminal, JSON otherwise (a file, a pipe, journald).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from skyforge.kernel import context
from skyforge.observability import tracing

FORMATS = ("json", "console")
AUTO = "auto"
# Loggers that configure handlers of their own: theirs go, the root handler prints for them.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# httpx logs every request with its full URL at INFO: a webhook's URL may hold its secret.
_QUIET = ("httpx", "httpcore")


def add_request_context(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """request_id from the request context; trace_id/span_id from the current span."""
    ctx = context.current.get()
    if ctx is not None:
        event.setdefault("request_id", ctx.request_id)
    ids = tracing.trace_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_context,
    ]


def resolve_format(fmt: str, stream: TextIO | None = None) -> str:
    """The format to print in: `auto` is console on a terminal, JSON anywhere else."""
    if fmt != AUTO:
        return fmt
    target = stream or sys.stderr
    return "console" if target.isatty() else "json"


def access_log_wanted(fmt: str, level: str) -> bool:
    """One line per request: always in JSON (for log shippers); on a console only at DEBUG,
    so a terminal shows what SkyForge does rather than every poll of the portal or CLI."""
    return fmt == "json" or level.upper() == "DEBUG"


def configure(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route every logger of the process to one structured handler (call once, at start)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *_shared(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _strip_color_message,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _OWN_HANDLERS:
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))


def _strip_color_message(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    # uvicorn passes a colored copy of its message as an extra: noise in a JSON line.
    event.pop("color_message", None)
    return event


def get_logger(name: str) -> Any:
    """A structlog logger that prints through the same handler."""
    return structlog.stdlib.get_logger(name)
