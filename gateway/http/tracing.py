"""The server span around each ``/graphql`` request (``gateway.ops.tracing`` builds the tracer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.http.guards import PathMiddleware
from gateway.ops.observe import record_of
from gateway.ops.tracing import MAX_SPAN_NAME_OPERATION_CHARS

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from gateway.ops.tracing import Tracing

__all__ = ["TracingMiddleware"]


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
