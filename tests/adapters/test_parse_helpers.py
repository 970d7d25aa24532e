"""The shared readers: tolerant, exact, and bounded in what they remember."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapters import _parse
from adapters._parse import as_decimal, epoch_ms, iso_datetime, normalize_word


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T12:00:00+02:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),  # naive means UTC
    ],
)
def test_iso_datetime_answers_in_utc(text: str, expected: datetime) -> None:
    parsed = iso_datetime(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is UTC


def test_iso_datetime_keeps_no_foreign_offset() -> None:
    parsed = iso_datetime("2026-11-01T05:00:00-05:00")
    assert parsed is not None
    assert parsed.tzinfo is UTC
    assert parsed == datetime(2026, 11, 1, 5, tzinfo=timezone(timedelta(hours=-5)))


@pytest.mark.parametrize("value", ["", "yesterday", 12, None])
def test_iso_datetime_refuses_what_is_not_a_time(value: object) -> None:
    assert iso_datetime(value) is None


def test_normalize_word_is_the_same_remembered_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parse, "_NORMALIZED", {})
    monkeypatch.setattr(_parse, "_MAX_NORMALIZED", 3)
    words = ["Timed-Out", "in_progress", "RUNNING", "waiting for approval", "Timed-Out"]
    expected = ["timedout", "inprogress", "running", "waitingforapproval", "timedout"]
    assert [normalize_word(w) for w in words] == expected
    assert [normalize_word(w) for w in words] == expected
    assert len(_parse._NORMALIZED) == 3  # bounded: a fourth distinct word is not kept
    assert normalize_word(7) is None


def test_remembered_readings_answer_each_type_as_its_own() -> None:
    """Readings are kept per value; an equal value of another type is read anew."""
    assert str(as_decimal(2)) == "2"
    assert str(as_decimal(2.0)) == "2.0"
    assert str(as_decimal("2.00")) == "2.00"
    assert as_decimal(True) is None
    assert as_decimal(float("nan")) is None
    assert as_decimal(0.012) == Decimal("0.012")
    assert epoch_ms(1_700_000_000_000) == epoch_ms(1_700_000_000_000.0)
    assert epoch_ms("1700000000000") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert epoch_ms(True) is None
    assert epoch_ms(1e300) is None
