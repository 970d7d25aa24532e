"""What a webhook says, read per kind from the signed body: event id, type, execution, time.

Only these facts are taken: a webhook is a hint, and the execution is re-read from the upstream
before anything is published. Every one comes from the body, which the signature covers; never
from a header, which anyone replaying a captured delivery can change. Shapes, from the docs:

- Rotavision: ``{"id": "evt_…", "type": "workflow.completed", "created_at", "data": {…}}``; the
  execution id is read from ``data.execution_id`` (or ``data.id``).
- Velt: ``{"eventId", "seq", "type", "stepId", "timestamp" (ms), "executionId", "data"}``; the
  event id is ``eventId``, else ``<executionId>#<seq>`` (Velt: "dedupe on eventId or
  (executionId, seq)"); the unsigned ``x-velt-event-id`` header is not read.
- Truthlocks: ``{"event_id", "event_type", "payload": {"orchestration_id"…}, "timestamp"}``.

The time (``created_at``, ``timestamp``) bounds replays: see ``REPLAY_WINDOW_S``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.model import SourceKind

__all__ = ["KNOWN_TYPES", "REPLAY_WINDOW_S", "UnreadableEvent", "WebhookEvent", "read_event"]

KNOWN_TYPES: dict[SourceKind, frozenset[str]] = {
    SourceKind.ROTAVISION: frozenset({"workflow.completed", "workflow.failed"}),
    SourceKind.VELT: frozenset(
        {
            "execution.dispatched",
            "execution.completed",
            "execution.failed",
            "execution.cancelled",
            "step.awaiting-approval",
            "step.completed",
            "step.failed",
            "step.breached",
            "step.cancelled",
            "group.quorum-met",
            "loop.iteration-started",
            "loop.exhausted",
        }
    ),
    SourceKind.TRUTHLOCKS: frozenset(
        {
            "orchestration.started",
            "orchestration.completed",
            "orchestration.failed",
            "orchestration.timeout",
        }
    ),
}
REPLAY_WINDOW_S: dict[SourceKind, float] = {SourceKind.VELT: 3600.0}
"""The oldest event a kind's sender still delivers, where its retry schedule says so. Velt
retries 2 s, 8 s, 32 s, 2 min and 8 min after the first attempt (10 s timeout each): its last
attempt leaves ~12 min after the event, so an hour leaves room for queueing and clock skew.
Rotavision retries for ~35 h and Truthlocks does not say: ``live.dedupe_ttl_s`` bounds them
(and caps this)."""
_TIME_FIELD = {
    SourceKind.ROTAVISION: "created_at",
    SourceKind.VELT: "timestamp",
    SourceKind.TRUTHLOCKS: "timestamp",
}
_MAX_FIELD = 200


class UnreadableEvent(ValueError):
    """The body is not an event of this kind (after a valid signature: a sender bug)."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str
    type: str
    native_id: str | None
    """None for an event type that names no execution (or one this gateway does not know)."""
    known: bool
    sent_at: float | None
    """When the event happened (Unix seconds), if the body says; None when it does not."""


def read_event(kind: SourceKind, body: Any) -> WebhookEvent:
    """The event in ``body`` (parsed JSON); UnreadableEvent if it is not one of ``kind``."""
    if not isinstance(body, dict):
        raise UnreadableEvent("the body is not a JSON object")
    if kind is SourceKind.ROTAVISION:
        data = _object(body.get("data"))
        event_id = _text(body.get("id"))
        type_ = _text(body.get("type"))
        native = _text(data.get("execution_id")) or _text(data.get("id"))
    elif kind is SourceKind.VELT:
        data = _object(body.get("data"))
        type_ = _text(body.get("type"))
        native = _text(body.get("executionId")) or _text(data.get("executionId"))
        seq = body.get("seq")
        has_seq = isinstance(seq, int) and not isinstance(seq, bool)
        event_id = _text(body.get("eventId")) or (f"{native}#{seq}" if native and has_seq else None)
    elif kind is SourceKind.TRUTHLOCKS:
        data = _object(body.get("payload")) or _object(body.get("data"))
        event_id = _text(body.get("event_id")) or _text(body.get("id"))
        type_ = _text(body.get("event_type")) or _text(body.get("type"))
        native = (
            _text(data.get("orchestration_id"))
            or _text(data.get("id"))
            or _text(body.get("orchestration_id"))
        )
    else:
        raise UnreadableEvent(f"'{kind.value}' sources send no webhooks")
    if event_id is None or type_ is None:
        raise UnreadableEvent("the event has no id or no type")
    known = type_ in KNOWN_TYPES[kind]
    sent_at = _time(kind, body.get(_TIME_FIELD[kind]))
    return WebhookEvent(event_id, type_, native, known, sent_at)


def _time(kind: SourceKind, value: Any) -> float | None:
    """Velt's milliseconds, the others' ISO-8601 (UTC when no offset is given)."""
    if value is None:
        return None
    if kind is SourceKind.VELT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value / 1000
        raise UnreadableEvent("the event's timestamp is not a number of milliseconds")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise UnreadableEvent("the event's time is not an ISO-8601 date-time")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_FIELD:
        return value
    return None
