"""Rotavision's webhooks: the declaration, and every documented event read from its signed body.

From concepts/webhooks.mdx: events ``workflow.completed`` and ``workflow.failed`` (none for
"waiting for approval"), body ``{id: "evt_…", type, created_at, data{…}}``, signed in
``X-Rotavision-Signature: sha256=<hex>``, retried 7 times over ~35 h.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.declarations import SHA256_PREFIXED, UnreadableEvent
from adapters.rotavision import WEBHOOK_EVENT_TYPES, RotavisionAdapter, read_rotavision_event

ROTAVISION = {
    "id": "evt_abc",
    "type": "workflow.completed",
    "created_at": "2026-02-01T10:30:00Z",
    "data": {"execution_id": "exec_1"},
}
FEB_1_1030_UTC = 1_769_941_800.0
DOCUMENTED_TYPES = ["workflow.completed", "workflow.failed"]


def test_the_declaration() -> None:
    """No event says an execution waits for a human, so watched executions are polled too; no
    window is declared, so ``live.dedupe_ttl_s`` bounds replays."""
    webhooks = RotavisionAdapter.webhooks
    assert webhooks is not None
    assert webhooks.signature_header == "x-rotavision-signature"
    assert webhooks.signature is SHA256_PREFIXED
    assert webhooks.read_event is read_rotavision_event
    assert webhooks.covers_every_change is False
    assert webhooks.replay_window_s is None


def test_the_documented_event_types_are_the_known_ones() -> None:
    assert sorted(WEBHOOK_EVENT_TYPES) == DOCUMENTED_TYPES


@pytest.mark.parametrize("type_", DOCUMENTED_TYPES)
def test_every_documented_event_is_read(type_: str) -> None:
    event = read_rotavision_event({**ROTAVISION, "type": type_})
    assert (event.event_id, event.type, event.native_id, event.known) == (
        "evt_abc",
        type_,
        "exec_1",
        True,
    )
    assert event.sent_at == FEB_1_1030_UTC


def test_an_undocumented_type_is_read_but_not_known() -> None:
    event = read_rotavision_event({**ROTAVISION, "type": "workflow.waiting"})
    assert (event.type, event.known) == ("workflow.waiting", False)


def test_the_execution_may_be_data_id() -> None:
    event = read_rotavision_event({"id": "e", "type": "workflow.failed", "data": {"id": "exec_2"}})
    assert (event.event_id, event.type, event.native_id) == ("e", "workflow.failed", "exec_2")


def test_without_data_the_event_names_no_execution() -> None:
    body = {k: v for k, v in ROTAVISION.items() if k != "data"}
    assert read_rotavision_event(body).native_id is None


def test_a_time_without_an_offset_is_utc_and_an_offset_is_honoured() -> None:
    naive = read_rotavision_event({**ROTAVISION, "created_at": "2026-02-01T10:30:00"})
    shifted = read_rotavision_event({**ROTAVISION, "created_at": "2026-02-01T12:30:00+02:00"})
    assert naive.sent_at == shifted.sent_at == FEB_1_1030_UTC


def test_an_event_without_a_time_has_none() -> None:
    body = {k: v for k, v in ROTAVISION.items() if k != "created_at"}
    assert read_rotavision_event(body).sent_at is None


@pytest.mark.parametrize("created_at", ["yesterday", 1_769_941_800])
def test_an_unreadable_time_is_an_unreadable_event(created_at: Any) -> None:
    with pytest.raises(UnreadableEvent, match="not an ISO-8601 date-time"):
        read_rotavision_event({**ROTAVISION, "created_at": created_at})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**ROTAVISION, "id": ""}, "the event has no id or no type"),
        ({"type": "workflow.failed"}, "the event has no id or no type"),
        ({"id": "evt_abc", "event_type": "workflow.failed"}, "the event has no id or no type"),
        ([ROTAVISION], "the body is not a JSON object"),
    ],
)
def test_not_a_rotavision_event_is_unreadable(body: Any, says: str) -> None:
    with pytest.raises(UnreadableEvent, match=says):
        read_rotavision_event(body)
