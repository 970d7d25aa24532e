"""The WebSocket side of subscriptions: text frames, message bounds and keep-alive pings.

Bounds: uvicorn closes the socket (1009) on a frame over ``server.max_websocket_message_bytes``
before it reads the payload (``ws_max_size``); the adapter checks the same bound again (a server
run without that option, the tests' in-process one), and holds the first message — the
``connection_init`` that names the caller — to ``MAX_INIT_MESSAGE_BYTES``: before a caller is
known, a socket costs at most that. Every operation then passes the gate (gateway/gate), as over
HTTP.

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
import logging
from json import JSONDecodeError
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocketDisconnect, WebSocketState
from starlette.websockets import WebSocketDisconnected as StarletteDisconnected
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping

log = logging.getLogger("gateway.live")

__all__ = ["MAX_INIT_MESSAGE_BYTES", "KeepAliveTransportWSHandler", "TextFrameWebSocketAdapter"]


MAX_INIT_MESSAGE_BYTES = 16_384
"""The most a socket may send before its ``connection_init`` is accepted."""
MESSAGE_TOO_BIG = 1009


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        """strawberry's, with the message bounds: a message over its bound closes the socket
        (1009) instead of being decoded."""
        limit = min(MAX_INIT_MESSAGE_BYTES, self._message_bound())
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit:
                    await self.close(MESSAGE_TOO_BIG, f"a message of at most {limit} bytes here")
                    return
                limit = self._message_bound()
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except KeyError as error:  # a binary frame
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            return

    def _message_bound(self) -> int:
        return int(getattr(self.view, "max_websocket_message_bytes", MAX_INIT_MESSAGE_BYTES))

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, StarletteDisconnected) as error:
            raise WebSocketDisconnected from error


class KeepAliveTransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """strawberry's handler, with server pings, a shape check of every message, and a socket
    that went away while an operation answered logged as what it is (not an ERROR)."""

    async def handle_message(self, message: Any) -> None:
        """strawberry's, once the message has the protocol's shape; else the socket closes
        with 4400 (strawberry indexed into it and raised on a list, a string or a number)."""
        problem = _message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            log.debug("the socket closed while an operation answered")
            return
        await super().handle_task_exception(error)

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


_PAYLOAD_OBJECT = ("connection_init", "ping", "pong")


def _message_problem(message: object) -> str | None:
    """Why ``message`` is not a graphql-transport-ws message strawberry can read, if it is not."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "A message is a JSON object with a string 'type'"
    kind = message["type"]
    payload = message.get("payload")
    if kind in _PAYLOAD_OBJECT and payload is not None and not isinstance(payload, dict):
        return f"The '{kind}' payload must be an object"
    if kind in ("subscribe", "complete"):
        if not isinstance(message.get("id"), str) or not message["id"]:
            return f"A '{kind}' message needs a non-empty string 'id'"
        if kind == "subscribe" and not isinstance(payload, dict):
            return "A 'subscribe' payload must be an object"
    return None
