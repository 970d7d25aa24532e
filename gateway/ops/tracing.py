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

if TYPE_CHECKING:
    from adapters.engine import CallRecord
    from gateway.config import TracingConfig

__all__ = ["INSTALL_HINT", "MAX_SPAN_NAME_OPERATION_CHARS", "Tracing", "check_installed"]

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
