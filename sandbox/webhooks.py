"""The sandbox's signed webhook sender: each kind's documented body and signature header.

Signatures are ``sha256=<hex HMAC-SHA256 of the raw body>`` under the source's secret
(``gateway.live.signatures`` checks them); Velt adds ``x-velt-event-id`` and ``x-velt-attempt``.
A delivery that is not answered 2xx is retried a few times, as the vendors do (at least once).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from sandbox.registry import SANDBOX_WEBHOOK_SECRETS, TWINS

__all__ = ["SANDBOX_WEBHOOK_SECRETS", "WebhookEvent", "WebhookSender", "signed_delivery"]

log = logging.getLogger("sandbox.webhooks")

_HEADERS = {t.kind: t.webhook_header for t in TWINS if t.webhook_header is not None}
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    kind: str
    native_id: str
    type: str
    step_id: str | None = None


def _body(event: WebhookEvent, event_id: str, seq: int) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    if event.kind == "rotavision":
        return {
            "id": event_id,
            "type": event.type,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data": {"execution_id": event.native_id},
        }
    if event.kind == "velt":
        return {
            "eventId": event_id,
            "seq": seq,
            "type": event.type,
            "stepId": event.step_id,
            "timestamp": now_ms,
            "executionId": event.native_id,
            "correlationId": None,
            "data": {},
        }
    return {
        "event_id": event_id,
        "event_type": event.type,
        "payload": {"orchestration_id": event.native_id},
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def signed_delivery(
    event: WebhookEvent, secret: str, *, event_id: str | None = None, attempt: int = 0
) -> tuple[bytes, dict[str, str]]:
    """One delivery's raw body and headers, signed with ``secret``."""
    number = next(_ids)
    event_id = event_id or f"evt_sandbox_{number:06d}"
    body = json.dumps(_body(event, event_id, number), separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", _HEADERS[event.kind]: f"sha256={digest}"}
    if event.kind == "velt":
        headers["x-velt-event-id"] = event_id
        headers["x-velt-attempt"] = str(attempt)
    return body, headers


class WebhookSender:
    """POSTs events to ``<gateway>/webhooks/<source name>`` for the kinds it has a target for."""

    def __init__(
        self,
        gateway_url: str,
        sources: dict[str, str],
        *,
        secrets: dict[str, str] | None = None,
        retries: int = 3,
    ) -> None:
        """``sources``: kind → the gateway's source name for it."""
        self._url = gateway_url.rstrip("/")
        self._sources = sources
        self._secrets = secrets or SANDBOX_WEBHOOK_SECRETS
        self._retries = retries
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failed = 0

    async def send(self, event: WebhookEvent) -> bool:
        name = self._sources.get(event.kind)
        if name is None:
            return False
        event_id = f"evt_sandbox_{next(_ids):06d}"
        for attempt in range(self._retries + 1):
            body, headers = signed_delivery(
                event, self._secrets[event.kind], event_id=event_id, attempt=attempt
            )
            if self._session is None:  # opened inside the running loop (aiohttp's rule)
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(force_close=True),  # as gateway/live/notify.py
                    timeout=aiohttp.ClientTimeout(total=10),
                )
            try:
                async with self._session.post(
                    f"{self._url}/webhooks/{name}", data=body, headers=headers
                ) as response:
                    if 200 <= response.status < 300:
                        self.sent += 1
                        return True
            except (aiohttp.ClientError, TimeoutError) as error:
                log.debug("webhook delivery failed: %s", error)
            await asyncio.sleep(0.5 * 2**attempt)
        self.failed += 1
        return False

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
