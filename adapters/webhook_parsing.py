"""Reading a signed webhook body: the bounded readers every vendor's event reader shares.

A webhook is a hint: the execution is re-read from the upstream before anything is published, so
only the event's id, type, execution and time are taken, and each from the body, which the
signature covers; never from a header, which anyone replaying a captured delivery can change.
Unlike ``adapters._parse``, these refuse (UnreadableEvent) what a valid signature should never
carry, and keep no text longer than ``MAX_FIELD``: the id is a dedupe key held in Redis.
"""

from __future__ import annotations

from typing import Any

from adapters._parse import as_dict, iso_datetime
from adapters.declarations import UnreadableEvent

__all__ = ["MAX_FIELD", "event_body", "identified", "iso_seconds", "member", "ms_seconds", "text"]

MAX_FIELD = 200
"""The longest id or type kept; a longer one reads as absent."""


def event_body(body: Any) -> dict[str, Any]:
    """The parsed JSON body as an object; UnreadableEvent if it is anything else."""
    if not isinstance(body, dict):
        raise UnreadableEvent("the body is not a JSON object")
    return body


def identified(event_id: str | None, type_: str | None) -> tuple[str, str]:
    """The event's id and type, both required: an event without them cannot be deduplicated."""
    if event_id is None or type_ is None:
        raise UnreadableEvent("the event has no id or no type")
    return event_id, type_


def member(value: Any) -> dict[str, Any]:
    """A nested object (``data``, ``payload``), or an empty one when it is absent or not one."""
    return as_dict(value) or {}


def text(value: Any) -> str | None:
    """A non-empty string of at most ``MAX_FIELD`` characters, else None."""
    if isinstance(value, str) and 0 < len(value) <= MAX_FIELD:
        return value
    return None


def iso_seconds(value: Any) -> float | None:
    """An ISO-8601 date-time (UTC when it has no offset) as Unix seconds; None when absent."""
    if value is None:
        return None
    moment = iso_datetime(value)
    if moment is None:
        raise UnreadableEvent("the event's time is not an ISO-8601 date-time")
    return moment.timestamp()


def ms_seconds(value: Any) -> float | None:
    """Epoch milliseconds as Unix seconds; None when absent."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value / 1000
    raise UnreadableEvent("the event's timestamp is not a number of milliseconds")
