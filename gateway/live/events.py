"""What a webhook says, read per kind: an event id, its type, and the execution it is about.

Only these three facts are taken: a webhook is a hint, and the execution is re-read from the
upstream before anything is published (gateway/live/refresh.py). Shapes, from the vendors' docs:

- Rotavision: ``{"id": "evt_…", "type": "workflow.completed", "created_at", "data": {…}}``; the
  execution id is read from ``data.execution_id`` (or ``data.id``).
- Velt: ``{"eventId", "seq", "type", "stepId", "timestamp", "executionId", "data"}``; the event id
  is the ``x-velt-event-id`` header, else ``eventId``, else ``<executionId>#<seq>``.
- Truthlocks: ``{"event_id", "event_type", "payload": {"orchestration_id"…}, "timestamp"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.model import SourceKind

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KNOWN_TYPES", "UnreadableEvent", "WebhookEvent", "read_event"]

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


def read_event(kind: SourceKind, body: Any, headers: Mapping[str, str]) -> WebhookEvent:
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
        event_id = (
            _text(headers.get("x-velt-event-id"))
            or _text(body.get("eventId"))
            or (f"{native}#{seq}" if native and isinstance(seq, int) else None)
        )
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
    return WebhookEvent(event_id=event_id, type=type_, native_id=native, known=known)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_FIELD:
        return value
    return None
