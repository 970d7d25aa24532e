"""``POST /webhooks/{source}``: a signed hint that an execution changed, answered at once.

The signature is checked over the raw bytes before anything is read; a bad, missing, malformed
or repeated one is 401 and changes nothing. Deliveries are at least once (Velt retries ~10
minutes, Rotavision ~35 hours), so each event is remembered by the id in its signed body and a
repeat is 200 without effect; nothing a sender does not sign (such as ``x-velt-event-id``) goes
into that key, or one captured delivery could be replayed as new events. The signed time bounds
replays: an event older than its kind's window (``Webhooks.replay_window_s`` on its adapter, at
most ``live.dedupe_ttl_s``), or more than ``FUTURE_SKEW_S`` ahead, is 401 ``stale``, and an id is
remembered only while its event is young enough to be accepted, so a replay is accepted once.
An event type this gateway does not know, or one that names no execution, is 200 and counted.
The re-read itself runs after the answer (LiveHub.hint). Refusals are logged sampled.

A kind whose sender signs nothing declares a URL token instead (``Webhooks.url_token``): the
query's token must be the HMAC of the value the body is bound to (a thread id), or the delivery
is 401 the same way. Its body is unsigned, so a URL's holder can only hint at that one execution.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from cachetools import TLRUCache

from adapters.declarations import UnreadableEvent
from adapters.registry import adapter_class
from gateway.core.ids import InvalidId, parse_execution_id
from gateway.live.log_sampling import SampledLog
from gateway.live.signatures import Signature, verify, verify_token
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from adapters.declarations import WebhookEvent, Webhooks
    from gateway.config import LiveConfig, SourceConfig
    from gateway.live.hub import LiveHub
    from gateway.state.base import SharedState

__all__ = ["FUTURE_SKEW_S", "Receipt", "WebhookReceiver"]

log = logging.getLogger("gateway.live.webhooks")

FUTURE_SKEW_S = 300.0
"""How far ahead of this clock a signed time may be (the sender's clock may run fast); the same
margin is added to how long an id is remembered, for replicas whose clocks differ."""


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
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sources = sources
        self._hub = hub
        self._shared = shared
        """Replicas' one memory of event ids (Redis): a retry that reaches another replica is
        still a duplicate. While it is away, each replica remembers its own."""
        self._clock = clock
        self._dedupe_ttl_s = config.dedupe_ttl_s
        self.max_body_bytes = config.webhook_max_body_bytes
        self._seen: TLRUCache[tuple[str, str], float] = TLRUCache(
            maxsize=config.dedupe_max_entries, ttu=lambda _key, keep_s, now: now + keep_s
        )
        """(source, event id) → seconds to keep it, for the replica's own memory."""
        self._refusals = SampledLog(log)

    async def receive(
        self,
        name: str,
        headers: Mapping[str, Sequence[str]],
        body: bytes,
        query: Mapping[str, Sequence[str]] | None = None,
    ) -> Receipt:
        """``headers``: every value of each header, by lower-case name; ``query``: every value of
        each query parameter (read for a kind whose URL carries a token). The answer is counted
        by ``record``, once the endpoint has settled it."""
        source = self._sources.get(name)
        webhooks = adapter_class(source.kind).webhooks if source is not None else None
        if source is None or webhooks is None or not source.webhook_secrets:
            return Receipt(404, "unknown_source")
        signature, carrier = _authenticate(
            webhooks, headers, query or {}, body, source.webhook_secrets
        )
        if signature is not Signature.VALID:
            self._refuse(name, "bad_signature", f"signature {signature}", header=carrier)
            return Receipt(401, "bad_signature")
        try:
            event = webhooks.read_event(orjson.loads(body))
        except (orjson.JSONDecodeError, UnreadableEvent) as error:
            self._refuse(name, "unreadable", str(error))
            return Receipt(400, "unreadable")
        keep_s = self._keep_s(webhooks, event)
        if keep_s is None:
            self._refuse(name, "stale", "the event's signed time is outside the replay window")
            return Receipt(401, "stale")
        if not await self._first_delivery(name, event.event_id, keep_s):
            return Receipt(200, "duplicate")
        if not event.known:
            log.info(
                "webhook of an unknown type ignored", extra={"source": name, "type": event.type}
            )
            return Receipt(200, "ignored_type")
        native_id = event.native_id
        if native_id is not None:
            try:
                parse_execution_id(f"{name}:{native_id}")
            except InvalidId:
                native_id = None
        if native_id is None:
            log.info("webhook names no execution", extra={"source": name, "type": event.type})
            return Receipt(200, "no_execution")
        self._hub.hint(name, native_id)
        return Receipt(202, "accepted")

    def record(self, name: str, receipt: Receipt) -> None:
        """Count an answer on ``/metrics``, for configured sources only (a path is not a label)."""
        if name in self._sources:
            self._hub.stats.webhooks[(name, receipt.outcome)] += 1

    def _keep_s(self, webhooks: Webhooks, event: WebhookEvent) -> float | None:
        """How long to remember the event's id: while it could still be accepted. None: stale."""
        declared = webhooks.replay_window_s
        window = self._dedupe_ttl_s if declared is None else min(declared, self._dedupe_ttl_s)
        if event.sent_at is None:
            return self._dedupe_ttl_s
        age = self._clock() - event.sent_at
        if not -FUTURE_SKEW_S <= age <= window:
            return None
        return window - age + FUTURE_SKEW_S

    async def _first_delivery(self, name: str, event_id: str, keep_s: float) -> bool:
        marker = (name, event_id)
        if marker in self._seen:
            return False  # already marked in the shared memory too, or it was away then
        self._seen[marker] = keep_s
        if self._shared is not None:
            try:
                return await self._shared.add_once(f"webhook:{name}:{event_id}", keep_s)
            except StateUnavailable:
                pass
        return True

    def _refuse(self, name: str, outcome: str, reason: str, **extra: object) -> None:
        self._refusals.warning(
            (name, outcome),
            "webhook refused (%s): %s",
            outcome,
            reason,
            extra={"source": name, **extra},
        )


def _authenticate(
    webhooks: Webhooks,
    headers: Mapping[str, Sequence[str]],
    query: Mapping[str, Sequence[str]],
    body: bytes,
    secrets: Sequence[str],
) -> tuple[Signature, str]:
    """The delivery checked the way its kind declares: (the verdict, the header or query
    parameter that carried the proof)."""
    token = webhooks.url_token
    if token is not None:
        return verify_token(token, body, query.get(token.parameter, ()), secrets), token.parameter
    header = webhooks.signature_header or ""
    return verify(webhooks, body, headers.get(header, ()), secrets), header
