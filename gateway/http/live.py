"""The WebSocket side of subscriptions: text frames and keep-alive pings.

The view encodes JSON to bytes (orjson), which strawberry would send as binary frames; the
protocol wants text frames (the npm graphql-ws client refuses binary ones), so
``TextFrameWebSocketAdapter`` sends text.

strawberry pings only on the legacy graphql-ws protocol; a proxy or load balancer that closes
idle connections would cut a quiet subscription. Once the connection is acknowledged, this
handler sends ``{"type": "ping"}`` every ``live.keepalive_s``; clients answer ``pong``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KeepAliveTransportWSHandler", "TextFrameWebSocketAdapter"]


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


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
