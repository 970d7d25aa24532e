"""``POST /webhooks/{source}``: a signed hint that an execution changed, answered at once.

The signature is checked over the raw bytes before anything is read; a bad or missing one is
401 and changes nothing. Deliveries are at least once (Velt retries ~10 minutes, Rotavision
~35 hours), so event ids are remembered (bounded: ``live.dedupe_ttl_s``, ``dedupe_max_entries``)
and a repeat is 200 without effect. An event type this gateway does not know, or one that names
no execution, is 200 and counted. The re-read itself runs after the answer (LiveHub.hint).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from cachetools import TTLCache

from gateway.core.ids import InvalidId, parse_execution_id
from gateway.live.events import UnreadableEvent, read_event
from gateway.live.signatures import SIGNATURE_HEADERS, verify
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.config import LiveConfig, SourceConfig
    from gateway.live.hub import LiveHub
    from gateway.state.base import SharedState

__all__ = ["Receipt", "WebhookReceiver"]

log = logging.getLogger("gateway.live.webhooks")


@dataclass(frozen=True, slots=True)
class Receipt:
    status: int
    outcome: str


class WebhookReceiver:
    def __init__(
        self,
        config: LiveConfig,
        sources: Mapping[str, SourceConfig],
        hub: LiveHub,
        shared: SharedState | None = None,
    ) -> None:
        self._sources = sources
        self._hub = hub
        self._shared = shared
        """Replicas' one memory of event ids (Redis): a retry that reaches another replica is
        still a duplicate. While it is away, each replica remembers its own."""
        self._dedupe_ttl_s = config.dedupe_ttl_s
        self.max_body_bytes = config.webhook_max_body_bytes
        self._seen: TTLCache[tuple[str, str], bool] = TTLCache(
            maxsize=config.dedupe_max_entries, ttl=config.dedupe_ttl_s
        )

    async def receive(self, name: str, headers: Mapping[str, str], body: bytes) -> Receipt:
        """``headers`` with lower-case names."""
        source = self._sources.get(name)
        if source is None or not source.webhook_secrets:
            return Receipt(404, "unknown_source")
        header = SIGNATURE_HEADERS[source.kind]
        if not verify(body, headers.get(header), source.webhook_secrets):
            reason = "missing" if header not in headers else "invalid"
            log.warning(
                "webhook refused: signature %s",
                reason,
                extra={"source": name, "header": header, "bytes": len(body)},
            )
            return self._count(name, Receipt(401, "bad_signature"))
        try:
            event = read_event(source.kind, orjson.loads(body), headers)
        except (orjson.JSONDecodeError, UnreadableEvent) as error:
            log.warning("webhook unreadable", extra={"source": name, "error": str(error)})
            return self._count(name, Receipt(400, "unreadable"))
        if not await self._first_delivery(name, event.event_id):
            return self._count(name, Receipt(200, "duplicate"))
        if not event.known:
            log.info(
                "webhook of an unknown type ignored", extra={"source": name, "type": event.type}
            )
            return self._count(name, Receipt(200, "ignored_type"))
        native_id = event.native_id
        if native_id is not None:
            try:
                parse_execution_id(f"{name}:{native_id}")
            except InvalidId:
                native_id = None
        if native_id is None:
            log.info("webhook names no execution", extra={"source": name, "type": event.type})
            return self._count(name, Receipt(200, "no_execution"))
        self._hub.hint(name, native_id)
        return self._count(name, Receipt(202, "accepted"))

    async def _first_delivery(self, name: str, event_id: str) -> bool:
        marker = (name, event_id)
        seen_here = marker in self._seen
        self._seen[marker] = True
        if self._shared is not None:
            try:
                return await self._shared.add_once(f"webhook:{name}:{event_id}", self._dedupe_ttl_s)
            except StateUnavailable:
                pass
        return not seen_here

    def _count(self, name: str, receipt: Receipt) -> Receipt:
        self._hub.stats.webhooks[(name, receipt.outcome)] += 1
        return receipt
