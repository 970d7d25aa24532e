"""The Starlette application: ``/graphql`` (GraphiQL on GET in a browser), the probes, ``/metrics``.

``create_app`` assembles it from three lists — routes, middleware (outermost first) and the
runtime's lifespan — so each concern (auth, limits, metrics, logs) adds its own entries.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from strawberry.asgi import GraphQL

from adapters._http import loads_json
from gateway.core.caller import Caller
from gateway.core.loaders import Loaders
from gateway.core.runtime import Runtime
from gateway.http.auth import ANONYMOUS, AuthMiddleware
from gateway.http.deadline import DeadlineMiddleware
from gateway.http.guards import (
    BodyLimitMiddleware,
    GraphQLResponseMiddleware,
    RequestGuardMiddleware,
    cors_middleware,
)
from gateway.http.probes import Probes
from gateway.http.rate_limit import RateLimitMiddleware
from gateway.ops.logs import RequestLog, configure_logging, log_upstream_call
from gateway.ops.metrics import METRICS_PATH, GatewayMetrics
from gateway.ops.observe import ObserveRequests, RequestObserver
from gateway.schema import GatewaySchema, build_schema
from gateway.schema.context import Context

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import httpx
    from cross_web import AsyncHTTPRequestAdapter
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket
    from strawberry.http import GraphQLRequestData
    from strawberry.types import ExecutionResult, SubscriptionExecutionResult

    from adapters._http import CallObserver
    from gateway.config import GatewayConfig, SourceConfig

__all__ = ["CONFIG_ENV", "GatewayGraphQL", "app_from_env", "create_app"]

CONFIG_ENV = "GATEWAY_CONFIG"
"""The config file's path, for ``app_from_env`` (each ``serve --workers`` process, the image)."""


class GatewayGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view, with a typed per-request context."""

    def __init__(
        self,
        runtime: Runtime,
        schema: GatewaySchema,
        *,
        graphiql: bool,
        on_batch: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.runtime = runtime
        self.on_batch = on_batch

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        caller = request.scope.get("state", {}).get("caller", ANONYMOUS)
        assert isinstance(caller, Caller)
        # The id ObserveRequests logged and echoed, so an error's id finds its log lines.
        request_id = (
            request.scope.get("state", {}).get("request_id")
            or request.headers.get("x-request-id")
            or uuid.uuid4().hex
        )
        return Context(
            request=request,  # type: ignore[arg-type]
            response=response,  # type: ignore[arg-type]
            runtime=self.runtime,
            loaders=Loaders(self.runtime.store, self.runtime.stats, on_batch=self.on_batch),
            caller=caller,
            request_id=request_id,
        )

    def decode_json(self, data: str | bytes) -> object:
        """POST bodies through ``loads_json``: orjson where it reads exactly what the standard
        library would, the standard library otherwise (its JSONDecodeError is strawberry's 400).
        Text (a GET's ``variables``) keeps strawberry's reading."""
        if isinstance(data, str):
            return super().decode_json(data)
        return loads_json(data)

    def encode_json(self, data: object) -> str | bytes:
        """orjson: a tenth of the standard library's time for a 20-execution answer. What it
        cannot encode (an integer beyond 64 bits in a raw payload) goes through strawberry's."""
        try:
            return orjson.dumps(data)
        except TypeError:
            return super().encode_json(data)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        """strawberry's, then the context's loaded data is released (``Context.release``).

        A streamed result still needs its context while it streams, so it keeps it.
        """
        result: Any = None
        try:
            result = await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        finally:
            # What isinstance(result, SubscriptionExecutionResult) asks, without the runtime
            # protocol check's attribute walk (8 µs per request).
            if not (hasattr(result, "__aiter__") and hasattr(result, "__anext__")):
                context.release()
        return result  # type: ignore[no-any-return]


def create_app(
    config: GatewayConfig,
    *,
    transport_factory: Callable[[SourceConfig], httpx.AsyncBaseTransport | None] | None = None,
) -> Starlette:
    """The gateway for ``config``; sources open at start-up and close at shutdown.

    Raises ConfigError when ``tracing.enabled`` but the ``tracing`` extra is not installed.
    ``app.state.metrics`` holds the metrics (None when off); ``cli`` serves them on their own
    port for ``server.metrics = "port"``.
    """
    runtime = Runtime(config, transport_factory=transport_factory)
    metrics = (
        GatewayMetrics(runtime.stats, runtime.adapters) if config.server.metrics != "off" else None
    )
    tracing = None
    if config.tracing.enabled:
        from gateway.ops.tracing import Tracing  # the extra is optional: import only when asked

        tracing = Tracing(config.tracing)
    call_observers: list[CallObserver] = [log_upstream_call]
    request_observers: list[RequestObserver] = [RequestLog()]
    if metrics is not None:
        call_observers.append(metrics.observe_call)
        request_observers.append(metrics)
    if tracing is not None:
        call_observers.append(tracing.observe_call)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        for adapter in runtime.adapters.values():
            for observer in call_observers:
                adapter.http.add_observer(observer)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.aclose()
            if tracing is not None:
                tracing.shutdown()

    graphql = GatewayGraphQL(
        runtime,
        build_schema(
            config.limits,
            introspection=config.server.introspection,
            fast_paths=config.server.fast_paths,
        ),
        graphiql=config.server.graphiql,
        on_batch=metrics.observe_batch if metrics is not None else None,
    )
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        *Probes(runtime).routes(),
    ]
    if metrics is not None and config.server.metrics == "open":
        routes.append(Route(METRICS_PATH, metrics.endpoint, methods=["GET"]))
    middleware = [Middleware(ObserveRequests, observers=request_observers)]
    if tracing is not None:
        from gateway.http.tracing import TracingMiddleware

        middleware.append(Middleware(TracingMiddleware, tracing=tracing))
    middleware += [
        *cors_middleware(config.server.cors_origins),
        Middleware(AuthMiddleware, config=config.auth),
        Middleware(RateLimitMiddleware, config=config.rate_limit),
        Middleware(BodyLimitMiddleware, max_bytes=config.server.max_body_bytes),
        Middleware(RequestGuardMiddleware),
        Middleware(GraphQLResponseMiddleware),
        Middleware(DeadlineMiddleware, seconds=config.server.request_deadline_s),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.metrics = metrics
    app.state.tracing = tracing
    return app


def app_from_env() -> Starlette:
    """The app for the config file ``$GATEWAY_CONFIG`` names: uvicorn's factory for ``--workers``."""
    from gateway.config import ConfigError, load_config
    from gateway.ops.heap import settle_heap

    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"{CONFIG_ENV}: not set; it names the gateway's config file")
    config = load_config(Path(path))
    configure_logging(config.logging)
    app = create_app(config)
    settle_heap()
    return app
