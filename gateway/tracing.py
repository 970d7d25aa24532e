"""OpenTelemetry spans: one per GraphQL request, one per upstream call; off unless enabled.

The SDK comes with the optional ``tracing`` extra, so nothing here imports ``opentelemetry``
until ``Tracing`` is built for ``tracing.enabled = true``; when the extra is missing that fails
at start-up with a ``ConfigError`` saying what to install. Each app gets its own
``TracerProvider`` (not the global one) and shuts it down with the app, flushing what is queued.

The request span continues the caller's trace (W3C ``traceparent``); upstream spans are its
children, built from the ``CallRecord`` when the call ends (their start is back-dated by the
call's duration). OpenTelemetry objects are typed ``Any`` here: the extra is optional, so the
type checker may not see it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gateway.config import ConfigError
from gateway.http_guards import PathMiddleware
from gateway.observe import record_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from adapters.engine import CallRecord
    from gateway.config import TracingConfig

__all__ = ["INSTALL_HINT", "Tracing", "TracingMiddleware", "check_installed"]

INSTALL_HINT = "pip install 'execution-gateway[tracing]'"
TRACER_NAME = "gateway"
MAX_SPAN_NAME_OPERATION_CHARS = 64


def check_installed() -> None:
    """Raise ConfigError, saying what to install, unless the ``tracing`` extra is there."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"tracing.enabled: OpenTelemetry is not installed (no module {exc.name}); "
            f"run {INSTALL_HINT}, or set tracing.enabled = false"
        ) from None


class Tracing:
    """A tracer provider for one app; raises ConfigError when the extra is not installed."""

    def __init__(self, config: TracingConfig) -> None:
        check_installed()
        from opentelemetry import propagate, trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.api: Any = trace
        self.propagator: Any = propagate
        self.provider: Any = TracerProvider(
            resource=Resource.create({"service.name": config.service_name})
        )
        self.provider.add_span_processor(BatchSpanProcessor(_exporter(config)))
        self.tracer: Any = self.provider.get_tracer(TRACER_NAME)

    def observe_call(self, record: CallRecord) -> None:
        """A ``CallRecord`` observer: one client span per upstream call."""
        trace = self.api
        end = time.time_ns()
        attributes: dict[str, Any] = {
            "gateway.source": record.source,
            "http.request.method": record.method,
            "url.template": record.template,
            "gateway.attempt": getattr(record, "attempt", 1),
        }
        if record.status is not None:
            attributes["http.response.status_code"] = record.status
        span = self.tracer.start_span(
            f"{record.method} {record.template}",
            kind=trace.SpanKind.CLIENT,
            start_time=end - int(record.duration_s * 1e9),
            attributes=attributes,
        )
        if record.error_code is not None:
            span.set_attribute("error.type", record.error_code)
            if record.error_code.startswith("UPSTREAM_"):
                span.set_status(trace.Status(trace.StatusCode.ERROR, record.error_code))
        span.end(end_time=end)

    def shutdown(self) -> None:
        self.provider.shutdown()


def _exporter(config: TracingConfig) -> Any:
    """OTLP over HTTP; without ``otlp_endpoint`` it follows the ``OTEL_EXPORTER_OTLP_*`` variables."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if config.otlp_endpoint:
        return OTLPSpanExporter(endpoint=config.otlp_endpoint)
    return OTLPSpanExporter()


class TracingMiddleware(PathMiddleware):
    """A server span around each ``/graphql`` request, current while it runs."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        super().__init__(app)
        self.tracing = tracing

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        trace = self.tracing.api
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        span = self.tracing.tracer.start_span(
            "graphql",
            context=self.tracing.propagator.extract(carrier),
            kind=trace.SpanKind.SERVER,
        )
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=True):
                await self.app(scope, receive, send)
        finally:
            record = record_of(scope)
            if record is not None:
                operation = record.operation or "unknown"
                if len(operation) > MAX_SPAN_NAME_OPERATION_CHARS:
                    operation = "other"
                span.update_name(f"graphql {operation}")
                span.set_attribute("graphql.operation.name", operation)
                span.set_attribute("gateway.outcome", record.outcome)
                span.set_attribute("gateway.request_id", record.request_id)
                span.set_attribute("http.request.method", record.method)
                if record.status:
                    span.set_attribute("http.response.status_code", record.status)
                if record.outcome == "errors":
                    span.set_status(trace.Status(trace.StatusCode.ERROR, "errors"))
            span.end()
