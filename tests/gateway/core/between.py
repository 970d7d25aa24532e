"""``Between``: the sandbox app with a one-shot step run just before or just after one request.

The step changes the upstream the way a person or another system would between two of the
gateway's calls (another reviewer decides, a run is cancelled or vanishes, reads start failing),
so a test observes the gateway's answer to a race for real, over HTTP, at a known moment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.types import ASGIApp, Receive, Scope, Send


class Between:
    """``before``/``after``: ``"POST /path"`` → a step run once, before or after that request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}
        self.after: dict[str, Callable[[], Awaitable[None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = f"{scope.get('method')} {scope.get('path')}"
        before = self.before.pop(request, None)
        if before is not None:
            await before()
        await self.app(scope, receive, send)
        after = self.after.pop(request, None)
        if after is not None:
            await after()
