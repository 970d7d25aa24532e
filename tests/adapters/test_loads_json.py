"""Upstream bodies are decoded fast (orjson) and exactly as tolerantly as the standard library."""

from __future__ import annotations

import pytest

from adapters.jsonio import loads_json


def test_a_plain_body_decodes() -> None:
    assert loads_json(b'{"id": "exec_1", "cost": 0.012, "steps": [1, true, null]}') == {
        "id": "exec_1",
        "cost": 0.012,
        "steps": [1, True, None],
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
        (b'{"n": -9500000000000000000}', {"n": -9500000000000000000}),
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
        ('{"a": "é"}'.encode("utf-16"), {"a": "é"}),
    ],
)
def test_what_orjson_refuses_but_the_standard_library_reads_still_decodes(
    body: bytes, expected: object
) -> None:
    assert loads_json(body) == expected


def test_big_integers_stay_exact_integers() -> None:
    value = loads_json(b"[18446744073709551616, 9223372036854775807, 12345]")
    assert value == [18446744073709551616, 9223372036854775807, 12345]
    assert all(isinstance(v, int) for v in value)


def test_nan_still_decodes_as_before() -> None:
    value = loads_json(b'{"x": NaN}')["x"]
    assert value != value  # NaN


@pytest.mark.parametrize("body", [b"", b"not json", b'{"a": 1', b"\xff\xfe\xfd"])
def test_what_is_not_json_raises_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the engine maps any ValueError to a bad response)
        loads_json(body)
