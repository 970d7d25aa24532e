"""Every GraphQL request gets a deadline (``server.request_deadline_s``) for its upstream calls.

A pure ASGI middleware: the deadline is set in the request's context before the endpoint runs,
so strawberry's execution and the DataLoader tasks it creates inherit it (``contextvars`` are
copied into new tasks), and each upstream call gets only what is left of it
(``adapters._http.request_deadline``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters._http import deadline_after

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DeadlineMiddleware"]


class DeadlineMiddleware:
    def __init__(
        self, app: ASGIApp, seconds: float, paths: tuple[str, ...] = ("/graphql",)
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        with deadline_after(self.seconds):
            await self.app(scope, receive, send)
