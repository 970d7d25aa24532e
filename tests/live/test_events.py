"""Reading a webhook's signed body per kind: the dedupe id and the time come from the body only.

Bodies are the vendors' documented event shapes (docs in /work/shared/upstreams, notes §1, §2, §4).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.model import SourceKind
from gateway.live.events import UnreadableEvent, read_event

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
ROTAVISION = {
    "id": "evt_abc",
    "type": "workflow.completed",
    "created_at": "2026-02-01T10:30:00Z",
    "data": {"execution_id": "exec_1"},
}
TRUTHLOCKS = {
    "event_id": "a5b0",
    "event_type": "orchestration.completed",
    "payload": {"orchestration_id": "maip-orch:01H"},
    "timestamp": "2026-02-01T10:30:00+00:00",
}
FEB_1_1030_UTC = 1_769_941_800.0


def test_velt_reads_the_signed_event_id_and_milliseconds() -> None:
    event = read_event(SourceKind.VELT, VELT)
    assert (event.event_id, event.native_id, event.known) == ("evt_9f2", "exe_42", True)
    assert event.sent_at == FEB_1_1030_UTC


def test_velt_without_an_event_id_is_keyed_by_execution_and_seq() -> None:
    body = {k: v for k, v in VELT.items() if k != "eventId"}
    assert read_event(SourceKind.VELT, body).event_id == "exe_42#7"


@pytest.mark.parametrize("seq", [True, "7", None, 7.0])
def test_velt_without_an_event_id_needs_an_integer_seq(seq: Any) -> None:
    body = {**{k: v for k, v in VELT.items() if k != "eventId"}, "seq": seq}
    with pytest.raises(UnreadableEvent):
        read_event(SourceKind.VELT, body)


def test_rotavision_and_truthlocks_read_iso_times() -> None:
    rotavision = read_event(SourceKind.ROTAVISION, ROTAVISION)
    truthlocks = read_event(SourceKind.TRUTHLOCKS, TRUTHLOCKS)
    assert (rotavision.event_id, rotavision.native_id) == ("evt_abc", "exec_1")
    assert (truthlocks.event_id, truthlocks.native_id) == ("a5b0", "maip-orch:01H")
    assert rotavision.sent_at == truthlocks.sent_at == FEB_1_1030_UTC


def test_a_time_without_an_offset_is_utc_and_an_offset_is_honoured() -> None:
    naive = read_event(SourceKind.ROTAVISION, {**ROTAVISION, "created_at": "2026-02-01T10:30:00"})
    shifted = {**ROTAVISION, "created_at": "2026-02-01T12:30:00+02:00"}
    assert naive.sent_at == read_event(SourceKind.ROTAVISION, shifted).sent_at == FEB_1_1030_UTC


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (SourceKind.VELT, {k: v for k, v in VELT.items() if k != "timestamp"}),
        (SourceKind.ROTAVISION, {k: v for k, v in ROTAVISION.items() if k != "created_at"}),
        (SourceKind.TRUTHLOCKS, {k: v for k, v in TRUTHLOCKS.items() if k != "timestamp"}),
    ],
)
def test_an_event_without_a_time_has_none(kind: SourceKind, body: dict[str, Any]) -> None:
    assert read_event(kind, body).sent_at is None


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (SourceKind.VELT, {**VELT, "timestamp": "2026-02-01T10:30:00Z"}),
        (SourceKind.VELT, {**VELT, "timestamp": True}),
        (SourceKind.ROTAVISION, {**ROTAVISION, "created_at": "yesterday"}),
        (SourceKind.ROTAVISION, {**ROTAVISION, "created_at": 1_769_941_800}),
        (SourceKind.TRUTHLOCKS, {**TRUTHLOCKS, "timestamp": "2026-13-01T00:00:00Z"}),
    ],
)
def test_an_unreadable_time_is_an_unreadable_event(kind: SourceKind, body: dict[str, Any]) -> None:
    with pytest.raises(UnreadableEvent):
        read_event(kind, body)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (SourceKind.VELT, [VELT]),
        (SourceKind.VELT, {**VELT, "type": None}),
        (SourceKind.ROTAVISION, {**ROTAVISION, "id": ""}),
        (SourceKind.TRUTHLOCKS, {**TRUTHLOCKS, "event_id": "x" * 201}),
        (SourceKind.NESTING, {"id": "evt", "type": "t"}),
    ],
)
def test_not_an_event_of_the_kind_is_unreadable(kind: SourceKind, body: Any) -> None:
    with pytest.raises(UnreadableEvent):
        read_event(kind, body)


@pytest.mark.parametrize(
    ("kind", "body", "read"),
    [
        (
            SourceKind.ROTAVISION,
            {"id": "e", "type": "workflow.failed", "data": {"id": "exec_2"}},
            ("e", "workflow.failed", "exec_2"),
        ),
        (
            SourceKind.VELT,
            {"eventId": "e", "type": "step.completed", "data": {"executionId": "exe_3"}},
            ("e", "step.completed", "exe_3"),
        ),
        (
            SourceKind.TRUTHLOCKS,
            {"id": "e", "type": "orchestration.failed", "data": {"id": "o_4"}},
            ("e", "orchestration.failed", "o_4"),
        ),
        (
            SourceKind.TRUTHLOCKS,
            {"event_id": "e", "event_type": "orchestration.started", "orchestration_id": "o_5"},
            ("e", "orchestration.started", "o_5"),
        ),
        (
            SourceKind.VELT,
            {"eventId": "e", "type": "loop.exhausted", "data": "not an object"},
            ("e", "loop.exhausted", None),
        ),
    ],
)
def test_the_other_documented_places_of_id_type_and_execution(
    kind: SourceKind, body: dict[str, Any], read: tuple[str, str, str | None]
) -> None:
    event = read_event(kind, body)
    assert (event.event_id, event.type, event.native_id) == read


@pytest.mark.parametrize(("length", "kept"), [(1, True), (200, True), (201, False)])
def test_ids_are_kept_up_to_200_characters(length: int, kept: bool) -> None:
    native = "x" * length
    event = read_event(SourceKind.VELT, {**VELT, "executionId": native})
    assert event.native_id == (native if kept else None)


def test_a_time_without_an_offset_is_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        body = {**ROTAVISION, "created_at": "2026-02-01T10:30:00"}
        assert read_event(SourceKind.ROTAVISION, body).sent_at == FEB_1_1030_UTC
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("kind", "body", "says"),
    [
        (SourceKind.VELT, "[]", "the body is not a JSON object"),
        (SourceKind.VELT, {**VELT, "timestamp": "soon"}, "not a number of milliseconds"),
        (SourceKind.TRUTHLOCKS, {**TRUTHLOCKS, "timestamp": "soon"}, "not an ISO-8601 date-time"),
        (SourceKind.ROTAVISION, {"type": "workflow.failed"}, "the event has no id or no type"),
        (SourceKind.NESTING, {}, "'nesting' sources send no webhooks"),
    ],
)
def test_the_reason_is_said(kind: SourceKind, body: Any, says: str) -> None:
    with pytest.raises(UnreadableEvent, match=says):
        read_event(kind, body)
