"""WebSocket keep-alive: graphql-transport-ws with server pings.

strawberry pings only on the legacy graphql-ws protocol; a proxy or load balancer that closes
idle connections would cut a quiet subscription. Once the connection is acknowledged, this
handler sends ``{"type": "ping"}`` every ``live.keepalive_s``; clients answer ``pong``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

__all__ = ["KeepAliveTransportWSHandler"]


class KeepAliveTransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    async def handle(self) -> None:
        pinger = asyncio.create_task(self._ping())
        try:
            await super().handle()
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping(self) -> None:
        interval = float(getattr(self.view, "keepalive_s", 15.0))
        while True:
            await asyncio.sleep(interval)
            if self.connection_acknowledged:
                try:
                    await self.send_message({"type": "ping"})
                except Exception:
                    return
