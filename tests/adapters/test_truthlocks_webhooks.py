"""Truthlocks' webhooks: the declaration, and every documented event read from its signed body.

From the webhooks guide and the observability events page: ``X-Truthlocks-Signature``
(HMAC-SHA256, framing not documented), deduplication on ``event_id``, orchestration events
``orchestration.started|completed|failed|timeout``; the body
``{"event_id", "event_type", "payload": {"orchestration_id"…}, "timestamp"}``.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.declarations import SHA256_PREFIX_OPTIONAL, UnreadableEvent
from adapters.truthlocks import WEBHOOK_EVENT_TYPES, TruthlocksAdapter, read_truthlocks_event

TRUTHLOCKS = {
    "event_id": "a5b0",
    "event_type": "orchestration.completed",
    "payload": {"orchestration_id": "maip-orch:01H"},
    "timestamp": "2026-02-01T10:30:00+00:00",
}
FEB_1_1030_UTC = 1_769_941_800.0
DOCUMENTED_TYPES = [
    "orchestration.completed",
    "orchestration.failed",
    "orchestration.started",
    "orchestration.timeout",
]


def test_the_declaration() -> None:
    webhooks = TruthlocksAdapter.webhooks
    assert webhooks is not None
    assert webhooks.signature_header == "x-truthlocks-signature"
    assert webhooks.signature is SHA256_PREFIX_OPTIONAL
    assert webhooks.read_event is read_truthlocks_event
    assert webhooks.covers_every_change is True
    assert webhooks.replay_window_s is None


def test_the_documented_event_types_are_the_known_ones() -> None:
    assert sorted(WEBHOOK_EVENT_TYPES) == DOCUMENTED_TYPES


@pytest.mark.parametrize("type_", DOCUMENTED_TYPES)
def test_every_documented_event_is_read(type_: str) -> None:
    event = read_truthlocks_event({**TRUTHLOCKS, "event_type": type_})
    assert (event.event_id, event.type, event.native_id, event.known) == (
        "a5b0",
        type_,
        "maip-orch:01H",
        True,
    )
    assert event.sent_at == FEB_1_1030_UTC


def test_an_undocumented_type_is_read_but_not_known() -> None:
    event = read_truthlocks_event({**TRUTHLOCKS, "event_type": "agent.created"})
    assert (event.type, event.known) == ("agent.created", False)


@pytest.mark.parametrize(
    ("body", "read"),
    [
        (
            {"id": "e", "type": "orchestration.failed", "data": {"id": "o_4"}},
            ("e", "orchestration.failed", "o_4"),
        ),
        (
            {"event_id": "e", "event_type": "orchestration.started", "orchestration_id": "o_5"},
            ("e", "orchestration.started", "o_5"),
        ),
        (
            {"event_id": "e", "event_type": "orchestration.failed", "payload": {"id": "o_6"}},
            ("e", "orchestration.failed", "o_6"),
        ),
    ],
)
def test_the_other_places_of_id_type_and_execution(
    body: dict[str, Any], read: tuple[str, str, str]
) -> None:
    event = read_truthlocks_event(body)
    assert (event.event_id, event.type, event.native_id) == read


def test_an_event_without_a_time_has_none() -> None:
    body = {k: v for k, v in TRUTHLOCKS.items() if k != "timestamp"}
    assert read_truthlocks_event(body).sent_at is None


@pytest.mark.parametrize("timestamp", ["2026-13-01T00:00:00Z", "soon"])
def test_an_unreadable_time_is_an_unreadable_event(timestamp: str) -> None:
    with pytest.raises(UnreadableEvent, match="not an ISO-8601 date-time"):
        read_truthlocks_event({**TRUTHLOCKS, "timestamp": timestamp})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**TRUTHLOCKS, "event_id": "x" * 201}, "the event has no id or no type"),
        ({**TRUTHLOCKS, "event_type": None}, "the event has no id or no type"),
        ("{}", "the body is not a JSON object"),
    ],
)
def test_not_a_truthlocks_event_is_unreadable(body: Any, says: str) -> None:
    with pytest.raises(UnreadableEvent, match=says):
        read_truthlocks_event(body)
