"""The readers every vendor's webhook reader shares: bounded text, ISO and millisecond times, and
the reason an unreadable event is refused."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.declarations import UnreadableEvent
from adapters.model import SourceKind
from adapters.registry import ADAPTERS
from adapters.webhook_parsing import (
    MAX_FIELD,
    event_body,
    identified,
    iso_seconds,
    member,
    ms_seconds,
    text,
)

FEB_1_1030_UTC = 1_769_941_800.0


@pytest.mark.parametrize(("length", "kept"), [(1, True), (MAX_FIELD, True), (MAX_FIELD + 1, False)])
def test_text_is_kept_up_to_200_characters(length: int, kept: bool) -> None:
    value = "x" * length
    assert MAX_FIELD == 200
    assert text(value) == (value if kept else None)


@pytest.mark.parametrize("value", ["", None, 7, True, ["evt"], {"id": "evt"}])
def test_text_is_none_for_what_is_not_a_non_empty_string(value: Any) -> None:
    assert text(value) is None


@pytest.mark.parametrize("value", [None, "data", 1, [{"id": "x"}]])
def test_a_member_that_is_not_an_object_reads_as_empty(value: Any) -> None:
    assert member(value) == {}
    assert member({"id": "x"}) == {"id": "x"}


@pytest.mark.parametrize("body", [[], "{}", None, 1])
def test_a_body_that_is_not_an_object_is_unreadable(body: Any) -> None:
    with pytest.raises(UnreadableEvent, match="the body is not a JSON object"):
        event_body(body)


@pytest.mark.parametrize(("event_id", "type_"), [(None, "t"), ("e", None), (None, None)])
def test_an_event_needs_an_id_and_a_type(event_id: str | None, type_: str | None) -> None:
    with pytest.raises(UnreadableEvent, match="the event has no id or no type"):
        identified(event_id, type_)
    assert identified("e", "t") == ("e", "t")


@pytest.mark.parametrize(
    "value",
    ["2026-02-01T10:30:00Z", "2026-02-01T10:30:00+00:00", "2026-02-01T12:30:00+02:00"],
)
def test_an_iso_time_with_an_offset_is_honoured(value: str) -> None:
    assert iso_seconds(value) == FEB_1_1030_UTC


def test_an_iso_time_without_an_offset_is_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert iso_seconds("2026-02-01T10:30:00") == FEB_1_1030_UTC
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("value", ["yesterday", "soon", "2026-13-01T00:00:00Z", 1_769_941_800, ""])
def test_an_unreadable_iso_time_is_an_unreadable_event(value: Any) -> None:
    with pytest.raises(UnreadableEvent, match="not an ISO-8601 date-time"):
        iso_seconds(value)


@pytest.mark.parametrize(("value", "seconds"), [(1_769_941_800_000, FEB_1_1030_UTC), (1500.0, 1.5)])
def test_milliseconds_are_seconds(value: float, seconds: float) -> None:
    assert ms_seconds(value) == seconds


@pytest.mark.parametrize("value", ["2026-02-01T10:30:00Z", "1769941800000", True, [1]])
def test_what_is_not_milliseconds_is_an_unreadable_event(value: Any) -> None:
    with pytest.raises(UnreadableEvent, match="not a number of milliseconds"):
        ms_seconds(value)


def test_an_absent_time_is_none() -> None:
    assert iso_seconds(None) is None
    assert ms_seconds(None) is None


def test_the_kinds_without_webhooks_declare_none() -> None:
    """They are polled; the config refuses a webhook secret for them."""
    without = {kind for kind, adapter in ADAPTERS.items() if adapter.webhooks is None}
    assert without == {SourceKind.NESTING}
