"""Every GraphQL request gets a deadline (``server.request_deadline_s``) for its upstream calls.

A pure ASGI middleware: the deadline is set in the request's context before the endpoint runs,
so strawberry's execution and the fetch tasks its loaders start inherit it (``contextvars`` are
copied into new tasks), and each upstream call gets only what is left of it
(``adapters.resilience.request_deadline``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from adapters.resilience import deadline_after
from gateway.http.guards import GRAPHQL_PATHS, PathMiddleware

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DeadlineMiddleware"]


class DeadlineMiddleware(PathMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        seconds: float,
        paths: tuple[str, ...] = GRAPHQL_PATHS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(app, paths)
        self.seconds = seconds
        self.clock = clock

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        with deadline_after(self.seconds, clock=self.clock):
            await self.app(scope, receive, send)
