"""The Starlette application: ``/graphql`` (GraphiQL on GET in a browser), ``/healthz``.

``create_app`` assembles it from three lists — routes, middleware (outermost first) and the
runtime's lifespan — so each concern (auth, limits, metrics, logs) adds its own entries.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from gateway.auth import ANONYMOUS, AuthMiddleware
from gateway.context import Caller, Context
from gateway.loaders import Loaders
from gateway.runtime import Runtime
from gateway.schema import schema

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import httpx
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from gateway.config import GatewayConfig, SourceConfig

__all__ = ["GatewayGraphQL", "create_app"]


class GatewayGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view, with a typed per-request context."""

    def __init__(self, runtime: Runtime, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.runtime = runtime

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        caller = request.scope.get("state", {}).get("caller", ANONYMOUS)
        assert isinstance(caller, Caller)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        return Context(
            request=request,  # type: ignore[arg-type]
            response=response,  # type: ignore[arg-type]
            runtime=self.runtime,
            loaders=Loaders(self.runtime.store, self.runtime.stats),
            caller=caller,
            request_id=request_id,
        )


def create_app(
    config: GatewayConfig,
    *,
    transport_factory: Callable[[SourceConfig], httpx.AsyncBaseTransport | None] | None = None,
) -> Starlette:
    """The gateway for ``config``; sources open at start-up and close at shutdown."""
    runtime = Runtime(config, transport_factory=transport_factory)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.aclose()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    graphql = GatewayGraphQL(runtime, graphiql=config.server.graphiql)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    middleware = [
        Middleware(AuthMiddleware, config=config.auth),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
