"""OpenTelemetry traces, exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

The standard OTel variables apply (`OTEL_SERVICE_NAME`, default "skyforge";
`OTEL_EXPORTER_OTLP_HEADERS`, ...). Without an endpoint nothing is instrumented: spans nobody
receives would only cost time on every request and query.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from skyforge.kernel import tracing

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
_propagator = TraceContextTextMapPropagator()
_provider: Any = None  # the SDK TracerProvider once configured (one per process)


def enabled() -> bool:
    return _provider is not None


def configure(environ: Mapping[str, str] = os.environ) -> bool:
    """Set up the tracer provider, exporter and httpx instrumentation once; True if tracing."""
    global _provider
    if _provider is not None:
        return True
    if not environ.get(ENDPOINT):
        return False
    # Imported here: the exporter and instrumentations load only when traces leave the process.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    name = environ.get("OTEL_SERVICE_NAME") or "skyforge"
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: name}), sampler=ParentBased(NoBackgroundQueries())
    )
    # The traces endpoint as the OTel spec derives it (the exporter would read os.environ).
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        environ[ENDPOINT].rstrip("/") + "/v1/traces"
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(
        tracer_provider=provider, request_hook=origin_only, async_request_hook=async_origin_only
    )
    tracing.install(OtelTracer(provider.get_tracer("skyforge")))
    _provider = provider
    return True


def origin_only(span: trace.Span, request: Any) -> None:
    """Outgoing URLs are kept to their origin: a webhook's path or query may be its secret."""
    url = request.url  # httpx.URL, or a (scheme, host, port, path) tuple from raw transports
    scheme, host, port = (
        (url.scheme, url.host, url.port) if hasattr(url, "scheme") else tuple(url[:3])
    )
    if isinstance(scheme, bytes):
        scheme, host = scheme.decode(), host.decode()
    origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    for key in ("http.url", "url.full"):
        span.set_attribute(key, origin)


async def async_origin_only(span: trace.Span, request: Any) -> None:
    origin_only(span, request)


def fastapi_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry settings (`FastAPI(telemetry=...)`): request spans by route.

    FastAPI traces requests by itself once a tracer provider is set (so only when configured
    above). Scrapes and probes are left out; metrics stay with Prometheus (/metrics).
    """
    return {"exclude": _untraced, "metrics": False, "logs": False}


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED_PATHS


def instrument_engine(engine: Any) -> None:
    """Client spans for every SQL statement of an async engine (through its sync engine)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # skip_dep_check: the instrumentation declares SQLAlchemy < 2.1 but works with 2.1 (its
    # engine events did not change); without it nothing would be instrumented, silently.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True
    )


def shutdown() -> None:
    """Flush the spans still batched (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


@contextmanager
def quiet() -> Iterator[None]:
    """No spans in this block (the instrumented libraries see instrumentation suppressed)."""
    if _provider is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def trace_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span as hex, or None outside a recorded span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


# What an HTTP client span starts with (old and new semantic conventions); SQL spans start bare.
_HTTP_ATTRIBUTES = frozenset({"http.request.method", "http.method"})


class NoBackgroundQueries(Sampler):
    """Root spans, except SQL statements outside any request or job.

    Background loops (job claims, the reconciler, the outbox relay) query every second or so;
    each query would be a trace of one span. Statements inside a request or a job have a
    parent, so they are kept (ParentBased); outgoing HTTP is kept even as a root (told apart by
    the attributes it starts with), as it is rare and says something happened (a router change).
    """

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        keep = kind != trace.SpanKind.CLIENT or bool(_HTTP_ATTRIBUTES & set(attributes or ()))
        if not keep:
            return SamplingResult(Decision.DROP)
        # The span's attributes are the ones the result carries: pass them on.
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)

    def get_description(self) -> str:
        return "NoBackgroundQueries"


class OtelTracer:
    """The kernel's tracing port on OpenTelemetry."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    @contextmanager
    def span(self, name: str, attributes: dict[str, tracing.Attribute]) -> Iterator[None]:
        with self.tracer.start_as_current_span(name, attributes=attributes):
            yield

    def traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        _propagator.inject(carrier)
        return carrier.get("traceparent")

    @contextmanager
    def continued(
        self, traceparent: str | None, name: str, attributes: dict[str, tracing.Attribute]
    ) -> Iterator[None]:
        parent = _propagator.extract({"traceparent": traceparent} if traceparent else {})
        token = otel_context.attach(parent)
        try:
            with self.tracer.start_as_current_span(name, attributes=attributes):
                yield
        finally:
            otel_context.detach(token)
