"""The webhook endpoint: reads a bounded raw body and hands it to the live layer's receiver.

The body is read as it arrives and refused with 413 past ``live.webhook_max_body_bytes``, before
any signature work; the answer is a small JSON ``{"outcome": …}`` (docs/live.md). Refusals (any
4xx) spend a token of the client's bucket (``REFUSAL_BURST``, refilled at ``REFUSALS_PER_S``);
with none left a refusal is answered 429 with ``Retry-After``, so a sender that keeps failing is
told to back off. A valid delivery is never refused for its client's bucket: an address may be
shared with the vendor's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from gateway.gate.rate import RateLimiter
from gateway.live.webhooks import Receipt

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.live.webhooks import WebhookReceiver

__all__ = ["REFUSALS_PER_S", "REFUSAL_BURST", "WebhookEndpoint"]

REFUSAL_BURST = 20
"""Refusals a client may get at once before they are answered 429."""
REFUSALS_PER_S = 1.0
"""How fast its bucket refills."""


class WebhookEndpoint:
    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        self._refusals = RateLimiter(REFUSALS_PER_S, REFUSAL_BURST)
        """By client address (behind a proxy, run uvicorn with ``--proxy-headers``)."""

    async def handle(self, request: Request) -> JSONResponse:
        name = request.path_params["source"]
        client = request.client.host if request.client else "unknown"
        receipt = await self._receive(name, request)
        extra: dict[str, str] = {}
        if receipt.status >= 400:
            wait_s = self._refusals.acquire(client)
            if wait_s > 0:
                receipt = Receipt(429, "rate_limited")
                extra["retry-after"] = str(math.ceil(wait_s))
        self.receiver.record(name, receipt)
        content: dict[str, str] = {"outcome": receipt.outcome}
        if receipt.outcome == "too_large":
            content["limit"] = f"live.webhook_max_body_bytes = {self.receiver.max_body_bytes}"
        return JSONResponse(content, status_code=receipt.status, headers=extra)

    async def _receive(self, name: str, request: Request) -> Receipt:
        limit = self.receiver.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _TOO_LARGE
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _TOO_LARGE
        headers: dict[str, list[str]] = {}
        for key, value in request.headers.raw:  # every value: a repeated header is refused
            headers.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        query: dict[str, list[str]] = {}
        for parameter, given in request.query_params.multi_items():  # a repeated one is refused
            query.setdefault(parameter, []).append(given)
        return await self.receiver.receive(name, headers, bytes(body), query)


_TOO_LARGE = Receipt(413, "too_large")
