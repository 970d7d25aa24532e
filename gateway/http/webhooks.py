"""The webhook endpoint: reads a bounded raw body and hands it to the live layer's receiver.

The body is read as it arrives and refused with 413 past ``live.webhook_max_body_bytes``, before
any signature work; the answer is a small JSON ``{"outcome": …}`` (docs/live.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.live.webhooks import WebhookReceiver

__all__ = ["WebhookEndpoint"]


class WebhookEndpoint:
    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def handle(self, request: Request) -> JSONResponse:
        name = request.path_params["source"]
        limit = self.receiver.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _too_large(limit)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _too_large(limit)
        headers = {k.lower(): v for k, v in request.headers.items()}
        receipt = await self.receiver.receive(name, headers, bytes(body))
        return JSONResponse({"outcome": receipt.outcome}, status_code=receipt.status)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"outcome": "too_large", "limit": f"live.webhook_max_body_bytes = {limit}"},
        status_code=413,
    )
