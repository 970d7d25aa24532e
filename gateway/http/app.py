"""The Starlette application: ``/graphql`` (GraphiQL on GET in a browser, gateway/http/graphiql),
the probes, ``/metrics``.

``create_app`` builds the parts once (runtime, live hub, metrics, gate, the GraphQL view) and
assembles them with three builders — ``_routes``, ``_middleware`` (outermost first) and
``_lifespan`` — so each concern (auth, limits, metrics, logs) adds its own entries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import uuid
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult

from adapters.jsonio import loads_json
from gateway.config import ConfigError
from gateway.core.caller import Caller
from gateway.core.loaders import Loaders
from gateway.core.runtime import Runtime
from gateway.gate import Gate, RateLimit, Refused
from gateway.gate.metrics import GateCollector
from gateway.http.answer_cache import AnswerCacheMiddleware
from gateway.http.answers import AnswerVerdicts, resolve_document
from gateway.http.auth import ANONYMOUS, AWAITING_INIT, AuthMiddleware, authenticate_connection
from gateway.http.deadline import DeadlineMiddleware
from gateway.http.graphiql import GraphiQLMiddleware
from gateway.http.guards import (
    JSON_BODY,
    BodyLimitMiddleware,
    GraphQLResponseMiddleware,
    NotJson,
    RequestGuardMiddleware,
    cors_middleware,
    read_json,
)
from gateway.http.live import KeepAliveTransportWSHandler, TextFrameWebSocketAdapter
from gateway.http.operations import answers_as_json, unstreamed_subscription
from gateway.http.probes import Probes
from gateway.http.server import HeaderCountMiddleware
from gateway.http.sse import ResumableSSETransport
from gateway.http.webhooks import WebhookEndpoint
from gateway.live.coherence import Coherence
from gateway.live.hub import LiveHub
from gateway.live.metrics import LiveCollector
from gateway.live.notify import notifier_for
from gateway.live.notify_metrics import NotifyCollector
from gateway.live.webhooks import WebhookReceiver
from gateway.ops.logs import RequestLog, configure_logging, log_upstream_call
from gateway.ops.metrics import METRICS_PATH, GatewayMetrics
from gateway.ops.observe import ObserveRequests, RequestObserver
from gateway.schema import GatewaySchema, build_schema, speed
from gateway.schema.context import Context
from gateway.schema.gating import RefusedResult, RefusedStream
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from cross_web import AsyncHTTPRequestAdapter
    from starlette.responses import Response
    from starlette.routing import BaseRoute
    from starlette.types import Receive, Scope, Send
    from starlette.websockets import WebSocket
    from strawberry.http.base import BaseRequestProtocol
    from strawberry.types import SubscriptionExecutionResult

    from adapters.engine import CallObserver
    from adapters.transports import InjectedTransport
    from gateway.config import AuthConfig, GatewayConfig, SourceConfig
    from gateway.live.redis_bus import RedisBus
    from gateway.ops.tracing import Tracing
    from gateway.state.base import SharedState

__all__ = ["CONFIG_ENV", "GatewayGraphQL", "app_from_env", "create_app"]

log = logging.getLogger("gateway.http")


class _OurWordingOnly(logging.Filter):
    """strawberry's own line for a refused origin names its ``allowed_origins``; ours names
    ``server.cors_origins`` (``GatewayGraphQL.is_websocket_origin_allowed``), so its is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "allowed_origins" not in str(record.msg)


logging.getLogger("strawberry.ws").addFilter(_OurWordingOnly())

CONFIG_ENV = "GATEWAY_CONFIG"
"""The config file's path, for ``app_from_env`` (each ``serve --workers`` process, the image)."""


class GatewayGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view, with a typed per-request context.

    Subscriptions (docs/live.md): graphql-transport-ws on the WebSocket, with server pings;
    GraphQL over SSE and multipart subscriptions on HTTP.

    With the speed work on (``schema.fast_paths``), a plain JSON ``POST`` skips strawberry's
    general request parsing (``speed.plain_post``); ``fast_posts`` counts the requests that did.
    """

    graphql_transport_ws_handler_class = KeepAliveTransportWSHandler
    stream_transport_classes_by_protocol = {  # noqa: RUF012 SSE with ids, over GET too
        **GraphQL.stream_transport_classes_by_protocol,
        GRAPHQL_SSE_PROTOCOL: ResumableSSETransport,
    }
    websocket_adapter_class = TextFrameWebSocketAdapter

    def __init__(
        self,
        runtime: Runtime,
        schema: GatewaySchema,
        gate: Gate,
        *,
        on_batch: Callable[[str, int], None] | None = None,
        live: LiveHub | None = None,
        auth: AuthConfig | None = None,
        allowed_origins: tuple[str, ...] = (),
        max_websocket_message_bytes: int = 262_144,
    ) -> None:
        # The IDE is GraphiQLMiddleware's (vendored, key-aware), never strawberry's CDN page.
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
            ),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=live.config.max_subscriptions_per_client
            if live is not None
            else 100,
            allowed_origins=allowed_origins,
        )
        self.runtime = runtime
        self.gate = gate
        self.on_batch = on_batch
        self.verdicts = AnswerVerdicts(graphql_schema(schema)) if runtime.answers.enabled else None
        self.live = live
        self.auth = auth
        self.keepalive_s = live.config.keepalive_s if live is not None else 15.0
        self.max_websocket_message_bytes = max_websocket_message_bytes
        # Incremental delivery (@defer) would answer a plain POST with a stream: not ours to serve.
        self.fast_post_on = (
            schema.fast_paths and not schema.config.enable_experimental_incremental_execution
        )
        self.fast_posts = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.fast_post_on or not speed.is_plain_json_post(scope):
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._answer_plain_post(request)
        except HTTPException as exc:  # as strawberry's __call__ answers them
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        await response(scope, receive, send)

    async def _answer_plain_post(self, request: Request) -> Response:
        """What ``run`` answers, less its general parsing: the same hooks in the same order
        (context, ``execute_operation``, ``process_result``, ``create_response``; the root value
        is None, as the view's type says). A body of any other shape goes to ``run`` itself, which
        reads the body ``request`` kept. The body's object is RequestGuardMiddleware's reading of
        it (``JSON_BODY``) where that ran: parsed once."""
        try:
            data = request.scope.get("state", {}).get(JSON_BODY)
            if data is None:
                data = self.decode_json(await request.body())
            request_data = speed.plain_request_data(data)
        except ValueError:  # not JSON: run answers it as it does
            request_data = None
        if request_data is None:
            return await self.run(request)
        self.fast_posts += 1
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        adapter = self.request_adapter_class(request)
        result = await self.execute_operation(
            request, adapter, request_data, context, None, sub_response
        )
        # One operation over "http" is always executed whole (run streams only for a transport).
        assert isinstance(result, ExecutionResult)
        return self.create_response(await self.process_result(request, result), sub_response)

    async def on_ws_connect(self, context: Context) -> None:
        """The key from ``connection_init`` when the handshake carried none (browsers)."""
        if context.caller is not AWAITING_INIT:
            return
        caller = (
            authenticate_connection(self.auth, context.connection_params)
            if self.auth is not None
            else None
        )
        if caller is None:
            raise ConnectionRejectionError
        context.caller = caller

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
            gate=self.gate,
            live=self.live,
        )

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        """strawberry's rule (``server.cors_origins``), its refusal worded with our key."""
        allowed = super().is_websocket_origin_allowed(request, origin)
        if not allowed:
            log.warning(
                "refused a WebSocket from origin %r to host %r: add the origin to "
                "server.cors_origins if its pages should connect",
                origin,
                request.headers.get("host"),
            )
        return allowed

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """strawberry's rule, except for a GET that names a persisted query by its hash."""
        if "extensions" in request.query_params:
            return False
        return super().should_render_graphql_ide(request)

    def decode_json(self, data: str | bytes) -> object:
        """POST bodies through ``loads_json``: orjson where it reads exactly what the standard
        library would, the standard library otherwise (its JSONDecodeError is strawberry's 400);
        RequestGuardMiddleware has refused what neither should read. Text (a GET's ``variables``)
        through ``read_json``, whose refusals become strawberry's 400 too."""
        if isinstance(data, str):
            try:
                return read_json(data)
            except NotJson as exc:
                raise json.JSONDecodeError(str(exc), data, 0) from None
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

        A streamed result still needs its context while it streams, so it keeps it. The gate
        (asked by the schema) refuses what must not run; its refusal is answered here with its
        HTTP status, and an SSE or multipart request gets that answer instead of a stream.
        """
        if isinstance(request_data, GraphQLRequestData):
            resolved = resolve_document(self.runtime.persisted, request_data)
            if isinstance(resolved, RefusedResult):
                context.release()
                assert resolved.refused is not None
                _answer_refusal(resolved.refused, sub_response, request_data=request_data)
                return resolved
            request_data = resolved
            if request_data.protocol != "http" and answers_as_json(
                request_data, request.headers.get("accept")
            ):
                request_data = dataclasses.replace(request_data, protocol="http")
            if request_data.protocol == "http" and isinstance(request_data.query, str):
                unstreamed = unstreamed_subscription(
                    request_data.query, request_data.operation_name
                )
                if unstreamed is not None:
                    context.release()
                    raise unstreamed
        result: Any = None
        try:
            result = await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
            if isinstance(result, RefusedStream):
                result = RefusedResult.of(result.refused)
            if isinstance(result, RefusedResult):
                assert result.refused is not None
                _answer_refusal(result.refused, sub_response, request_data=request_data)
            elif (
                self.verdicts is not None
                and isinstance(request_data, GraphQLRequestData)
                and isinstance(result, ExecutionResult)
            ):
                state = request.scope.setdefault("state", {})
                self.verdicts.mark(state, request_data, result, context, self.runtime.store)
        finally:
            # What isinstance(result, SubscriptionExecutionResult) asks, without the runtime
            # protocol check's attribute walk (8 µs per request).
            if not (hasattr(result, "__aiter__") and hasattr(result, "__anext__")):
                context.release()
        return result  # type: ignore[no-any-return]


def _answer_refusal(
    refused: Refused,
    sub_response: Response,
    *,
    request_data: GraphQLRequestData | list[GraphQLRequestData],
) -> None:
    """The gate's HTTP status and headers for its refusal; a request error (None) is 200 with
    ``application/json`` (GraphQLResponseMiddleware makes it 400 where the client asked for
    ``application/graphql-response+json``), and 400 on a stream, which has no such answer."""
    is_stream = isinstance(request_data, GraphQLRequestData) and request_data.protocol != "http"
    status = refused.status or (400 if is_stream else None)
    if status is not None:
        sub_response.status_code = status
    for name, value in refused.headers:
        sub_response.headers[name] = value


@dataclasses.dataclass(frozen=True, slots=True)
class _Parts:
    """What the app is assembled from, built once by ``create_app`` and read by each builder."""

    config: GatewayConfig
    runtime: Runtime
    shared: SharedState | None
    """The state shared between replicas (None with the memory backend)."""
    live: LiveHub
    bus: RedisBus | None
    coherence: Coherence | None
    metrics: GatewayMetrics | None
    tracing: Tracing | None
    gate: Gate
    graphql: GatewayGraphQL


def create_app(
    config: GatewayConfig,
    *,
    transport_factory: Callable[[SourceConfig], InjectedTransport | None] | None = None,
    live_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Starlette:
    """The gateway for ``config``; sources open at start-up and close at shutdown.

    Raises ConfigError when ``tracing.enabled`` but the ``tracing`` extra is not installed
    (``server.upstream_client`` is checked with the config, ``check-config`` included).
    ``app.state.metrics`` holds the metrics (None when off); ``cli`` serves them on their own
    port for ``server.metrics = "port"``. ``app.state.live`` is the live hub (docs/live.md);
    ``live_sleep`` is its polls' wait (tests drive it by hand). ``app.state.graphql`` is the view
    (its ``fast_posts`` counts the requests the plain-POST path answered).
    """
    runtime = Runtime(config, transport_factory=transport_factory)
    shared = runtime.state if config.state.backend != "memory" else None
    bus, coherence = _shared_live(config, runtime)
    live = LiveHub(
        config.live,
        runtime.sources,
        runtime.store,
        runtime.adapters,
        sleep=live_sleep,
        bus=bus,
        shared=shared,
        notifier=notifier_for(config, runtime.state),  # closed by live.aclose (drains briefly)
    )
    runtime.decisions.on_sent.append(live.hint)  # subscribers see a decision's outcome at once
    runtime.run_control.on_sent.append(live.hint)  # ...and a run started or cancelled here
    metrics, tracing = _observability(config, runtime)
    gate = Gate(
        config.limits,
        rate_limit=RateLimit(config.rate_limit, shared=shared),
        persisted=runtime.persisted,
        introspection=config.server.introspection,
    )
    parts = _Parts(
        config=config,
        runtime=runtime,
        shared=shared,
        live=live,
        bus=bus,
        coherence=coherence,
        metrics=metrics,
        tracing=tracing,
        gate=gate,
        graphql=_graphql(config, runtime, gate, live, metrics),
    )
    _register_collectors(parts)
    app = Starlette(routes=_routes(parts), middleware=_middleware(parts), lifespan=_lifespan(parts))
    app.state.metrics = metrics
    app.state.tracing = tracing
    app.state.live = live
    app.state.graphql = parts.graphql
    app.state.gate = gate
    return app


def _shared_live(
    config: GatewayConfig, runtime: Runtime
) -> tuple[RedisBus | None, Coherence | None]:
    """With Redis: the change bus between replicas, and the coherence it keeps; else neither."""
    if config.state.backend == "memory" or not config.state.redis_url:
        return None, None
    # Imported only when asked for: redis-py loads OpenTelemetry when it is installed.
    from gateway.live.changelog import LogBounds
    from gateway.live.redis_bus import RedisBus

    bus = RedisBus(
        config.state.redis_url,
        prefix=config.state.key_prefix,
        timeout_s=config.state.timeout_s,
        bounds=LogBounds.of(config.live),
    )
    return bus, Coherence(bus, runtime.store, runtime.background)


def _observability(
    config: GatewayConfig, runtime: Runtime
) -> tuple[GatewayMetrics | None, Tracing | None]:
    """Metrics unless ``server.metrics = "off"``; tracing when enabled (the extra, imported then)."""
    metrics = (
        GatewayMetrics(runtime.stats, runtime.adapters, runtime.answers.counters, runtime.state)
        if config.server.metrics != "off"
        else None
    )
    if not config.tracing.enabled:
        return metrics, None
    from gateway.ops.tracing import Tracing

    return metrics, Tracing(config.tracing)


def _graphql(
    config: GatewayConfig,
    runtime: Runtime,
    gate: Gate,
    live: LiveHub,
    metrics: GatewayMetrics | None,
) -> GatewayGraphQL:
    schema = build_schema(
        config.limits, fast_paths=config.server.fast_paths, federation=config.server.federation
    )
    return GatewayGraphQL(
        runtime,
        schema,
        gate,
        on_batch=metrics.observe_batch if metrics is not None else None,
        live=live,
        auth=config.auth,
        allowed_origins=config.server.cors_origins,
        max_websocket_message_bytes=config.server.max_websocket_message_bytes,
    )


def _register_collectors(parts: _Parts) -> None:
    """The live hub's, the gate's and the notifier's numbers in the metrics registry."""
    if parts.metrics is None:
        return
    registry = parts.metrics.registry
    registry.register(
        LiveCollector(parts.live, parts.coherence.stats if parts.coherence is not None else None)
    )
    registry.register(GateCollector(parts.gate))
    if parts.live.notifier is not None:
        registry.register(NotifyCollector(parts.live.notifier))


def _routes(parts: _Parts) -> list[BaseRoute]:
    """``/graphql`` (HTTP and WebSocket), the webhooks, the probes, ``/metrics`` when open."""
    runtime, config = parts.runtime, parts.config
    receiver = WebhookReceiver(config.live, runtime.sources, parts.live, parts.shared)
    routes: list[BaseRoute] = [
        Route("/graphql", parts.graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", parts.graphql),
        Route("/webhooks/{source}", WebhookEndpoint(receiver).handle, methods=["POST"]),
        *Probes(runtime).routes(),
    ]
    if parts.metrics is not None and config.server.metrics == "open":
        routes.append(Route(METRICS_PATH, parts.metrics.endpoint, methods=["GET"]))
    return routes


def _middleware(parts: _Parts) -> list[Middleware]:
    """Outermost first: header count, request observation, tracing, GraphiQL, CORS, auth, the
    body and request guards, the answer cache, the response media type, the deadline."""
    config, runtime = parts.config, parts.runtime
    observers: list[RequestObserver] = [RequestLog()]
    if parts.metrics is not None:
        observers.append(parts.metrics)
    middleware = [
        Middleware(HeaderCountMiddleware, max_headers=config.server.max_headers),
        Middleware(ObserveRequests, observers=observers),
    ]
    if parts.tracing is not None:
        from gateway.http.tracing import TracingMiddleware

        middleware.append(Middleware(TracingMiddleware, tracing=parts.tracing))
    if config.server.graphiql:
        api_key = config.auth.mode == "api_key"
        middleware.append(Middleware(GraphiQLMiddleware, api_key=api_key))
    return [
        *middleware,
        *cors_middleware(config.server.cors_origins),
        Middleware(AuthMiddleware, config=config.auth),
        Middleware(BodyLimitMiddleware, max_bytes=config.server.max_body_bytes),
        Middleware(RequestGuardMiddleware),
        Middleware(
            AnswerCacheMiddleware,
            answers=runtime.answers,
            gate=parts.gate,
            public=config.auth.mode == "none",
            shared=runtime.shared_answers,
            background=runtime.background,
        ),
        Middleware(GraphQLResponseMiddleware),
        Middleware(DeadlineMiddleware, seconds=config.server.request_deadline_s),
    ]


def _lifespan(parts: _Parts) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start-up opens the sources (each upstream call observed by the logs, metrics and
    tracing), then the bus and coherence; shutdown closes them in the reverse order."""
    runtime, bus, coherence, tracing = parts.runtime, parts.bus, parts.coherence, parts.tracing
    call_observers: list[CallObserver] = [log_upstream_call]
    if parts.metrics is not None:
        call_observers.append(parts.metrics.observe_call)
    if tracing is not None:
        call_observers.append(tracing.observe_call)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        if bus is not None:
            await bus.start()
        if coherence is not None:
            coherence.start()
        for adapter in runtime.adapters.values():
            for observer in call_observers:
                adapter.http.add_observer(observer)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await parts.live.aclose()
            if coherence is not None:
                await coherence.aclose()
            if bus is not None:
                await bus.aclose()
            await runtime.aclose()
            if tracing is not None:
                tracing.shutdown()

    return lifespan


def app_from_env() -> Starlette:
    """The app for the config file ``$GATEWAY_CONFIG`` names: uvicorn's factory for ``--workers``."""
    from gateway.config import load_config
    from gateway.ops.heap import settle_heap

    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"{CONFIG_ENV}: not set; it names the gateway's config file")
    config = load_config(Path(path))
    configure_logging(config.logging)
    app = create_app(config)
    settle_heap()
    return app
