"""Velt's webhooks: the declaration, and every documented event read from its signed body.

The event object, from the approval engine's webhooks page: ``eventId``, ``seq``, ``type``,
``stepId|null``, ``timestamp`` (ms), ``correlationId``, ``data?``; deliveries are deduplicated on
``eventId`` or ``(executionId, seq)``.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.declarations import SHA256_PREFIXED, UnreadableEvent
from adapters.velt import WEBHOOK_EVENT_TYPES, VeltAdapter, read_velt_event

VELT = {
    "eventId": "evt_9f2",
    "seq": 7,
    "type": "step.awaiting-approval",
    "stepId": "approve",
    "timestamp": 1_769_941_800_000,
    "executionId": "exe_42",
    "correlationId": None,
    "data": {},
}
FEB_1_1030_UTC = 1_769_941_800.0
DOCUMENTED_TYPES = sorted(
    f"{subject}.{word}"
    for subject, words in [
        ("execution", "dispatched|completed|failed|cancelled"),
        ("step", "awaiting-approval|completed|failed|breached|cancelled"),
        ("group", "quorum-met"),
        ("loop", "iteration-started|exhausted"),
    ]
    for word in words.split("|")
)
"""As the webhooks page lists them."""


def test_the_declaration() -> None:
    webhooks = VeltAdapter.webhooks
    assert webhooks is not None
    assert webhooks.signature_header == "x-velt-signature"
    assert webhooks.signature is SHA256_PREFIXED
    assert webhooks.read_event is read_velt_event
    assert webhooks.covers_every_change is True
    assert webhooks.replay_window_s == 3600.0


def test_the_documented_event_types_are_the_known_ones() -> None:
    assert sorted(WEBHOOK_EVENT_TYPES) == DOCUMENTED_TYPES


@pytest.mark.parametrize("type_", DOCUMENTED_TYPES)
def test_every_documented_event_is_read(type_: str) -> None:
    step = "approve" if type_.startswith("step.") else None
    event = read_velt_event({**VELT, "type": type_, "stepId": step})
    assert (event.event_id, event.type, event.native_id, event.known) == (
        "evt_9f2",
        type_,
        "exe_42",
        True,
    )
    assert event.sent_at == FEB_1_1030_UTC


def test_an_undocumented_type_is_read_but_not_known() -> None:
    event = read_velt_event({**VELT, "type": "execution.paused"})
    assert (event.type, event.known) == ("execution.paused", False)


def test_velt_without_an_event_id_is_keyed_by_execution_and_seq() -> None:
    body = {k: v for k, v in VELT.items() if k != "eventId"}
    assert read_velt_event(body).event_id == "exe_42#7"


@pytest.mark.parametrize("seq", [True, "7", None, 7.0])
def test_velt_without_an_event_id_needs_an_integer_seq(seq: Any) -> None:
    body = {**{k: v for k, v in VELT.items() if k != "eventId"}, "seq": seq}
    with pytest.raises(UnreadableEvent):
        read_velt_event(body)


def test_without_an_event_id_or_an_execution_the_event_is_unreadable() -> None:
    body = {k: v for k, v in VELT.items() if k not in {"eventId", "executionId"}}
    with pytest.raises(UnreadableEvent, match="the event has no id or no type"):
        read_velt_event(body)


def test_the_execution_may_be_in_data() -> None:
    event = read_velt_event(
        {"eventId": "e", "type": "step.completed", "data": {"executionId": "x"}}
    )
    assert (event.event_id, event.type, event.native_id) == ("e", "step.completed", "x")


def test_data_that_is_not_an_object_names_no_execution() -> None:
    event = read_velt_event({"eventId": "e", "type": "loop.exhausted", "data": "not an object"})
    assert (event.event_id, event.type, event.native_id) == ("e", "loop.exhausted", None)


@pytest.mark.parametrize(("length", "kept"), [(1, True), (200, True), (201, False)])
def test_ids_are_kept_up_to_200_characters(length: int, kept: bool) -> None:
    native = "x" * length
    event = read_velt_event({**VELT, "executionId": native})
    assert event.native_id == (native if kept else None)


def test_an_event_without_a_time_has_none() -> None:
    assert read_velt_event({k: v for k, v in VELT.items() if k != "timestamp"}).sent_at is None


@pytest.mark.parametrize("timestamp", ["2026-02-01T10:30:00Z", True, "soon"])
def test_a_time_that_is_not_milliseconds_is_unreadable(timestamp: Any) -> None:
    with pytest.raises(UnreadableEvent, match="not a number of milliseconds"):
        read_velt_event({**VELT, "timestamp": timestamp})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([VELT], "the body is not a JSON object"),
        ("[]", "the body is not a JSON object"),
        ({**VELT, "type": None}, "the event has no id or no type"),
    ],
)
def test_not_a_velt_event_is_unreadable(body: Any, says: str) -> None:
    with pytest.raises(UnreadableEvent, match=says):
        read_velt_event(body)
