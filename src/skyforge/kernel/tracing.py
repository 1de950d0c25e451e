"""The tracing port: spans and W3C trace context, without a tracing library in the domain.

Handlers mark their steps with `span("build")`; work handed to another task or process (a
queued job) carries `traceparent()` and is resumed with `continued(...)`, so one deploy is one
trace from the request to the rollout. The default tracer does nothing; `skyforge.observability`
installs the OpenTelemetry one when traces are exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Attribute = str | int | float | bool


class Tracer(Protocol):
    def span(self, name: str, attributes: dict[str, Attribute]) -> AbstractContextManager[None]:
        """A child span of the current one, current while the block runs."""

    def traceparent(self) -> str | None:
        """The current span's W3C `traceparent` header value, or None outside a trace."""

    def continued(
        self, traceparent: str | None, name: str, attributes: dict[str, Attribute]
    ) -> AbstractContextManager[None]:
        """A span whose parent is `traceparent` (a new trace when None or malformed)."""


class NullTracer:
    @contextmanager
    def span(self, name: str, attributes: dict[str, Attribute]) -> Iterator[None]:
        yield

    def traceparent(self) -> str | None:
        return None

    @contextmanager
    def continued(
        self, traceparent: str | None, name: str, attributes: dict[str, Attribute]
    ) -> Iterator[None]:
        yield


_tracer: Tracer = NullTracer()


def install(tracer: Tracer) -> None:
    """Set the process's tracer (once, at start, by the entry point)."""
    global _tracer
    _tracer = tracer


def span(name: str, **attributes: Attribute) -> AbstractContextManager[None]:
    return _tracer.span(name, attributes)


def traceparent() -> str | None:
    return _tracer.traceparent()


def continued(
    parent: str | None, name: str, **attributes: Attribute
) -> AbstractContextManager[None]:
    return _tracer.continued(parent, name, attributes)
