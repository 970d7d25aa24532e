"""Plain fields with a value computed when asked (gateway/schema/computed.py)."""

from __future__ import annotations

from types import SimpleNamespace

from gateway.schema.computed import Computed, resolve_attribute


def test_a_plain_value_is_read_as_getattr_reads_it() -> None:
    assert resolve_attribute(SimpleNamespace(name="x"), "name") == "x"


def test_a_computed_value_is_computed_from_the_object_asked_and_only_then() -> None:
    asked: list[object] = []

    def double(source: SimpleNamespace) -> int:
        asked.append(source)
        return int(source.n) * 2

    shared = Computed(double)  # one Computed serves every object
    first, second = SimpleNamespace(n=1, value=shared), SimpleNamespace(n=5, value=shared)
    assert asked == []
    assert resolve_attribute(first, "value") == 2
    assert resolve_attribute(second, "value") == 10
    assert asked == [first, second]
