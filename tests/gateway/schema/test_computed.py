"""Plain fields with a value computed when asked (gateway/schema/computed.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from gateway.schema import speed
from gateway.schema.computed import Computed, resolve_attribute
from gateway.schema.speed import FastExecutionContext

if TYPE_CHECKING:
    from collections.abc import Awaitable


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


@strawberry.type
class Leaf:
    label: str


@strawberry.type
class Box:
    name: str
    leaves: list[Leaf]
    later: str


COMPUTED_CALLS: list[str] = []


def _leaves(box: Box) -> list[Leaf]:
    COMPUTED_CALLS.append("leaves")
    return [Leaf(label=f"{box.name}-1"), Leaf(label=f"{box.name}-2")]


async def _later_value(box: Box) -> str:
    return box.name.upper()


def _later(box: Box) -> Awaitable[str]:
    COMPUTED_CALLS.append("later")
    return _later_value(box)


@strawberry.type
class BoxQuery:
    @strawberry.field
    def boxes(self) -> list[Box]:
        return [
            Box(
                name=name,
                leaves=cast("list[Leaf]", Computed(_leaves, sync=True)),
                later=cast("str", Computed(_later)),
            )
            for name in ("a", "b")
        ]


def _box_schema(fast: bool) -> strawberry.Schema:
    built = strawberry.Schema(
        query=BoxQuery,
        config=StrawberryConfig(default_resolver=resolve_attribute),
        execution_context_class=FastExecutionContext if fast else None,
    )
    if fast:
        speed.install(built)
    return built


@pytest.mark.parametrize(
    "query",
    [
        "{ boxes { name leaves { label } } }",
        "{ boxes { name later leaves { label } } }",
        "{ boxes { leaves { label } later } }",
    ],
)
async def test_a_computed_value_that_may_be_awaitable_is_left_to_the_standard_path(
    query: str,
) -> None:
    """A sync ``Computed`` may be computed while answering a whole object (and again if that
    object goes the standard way after all); one that may be awaitable never is (it could start
    a load, or leave a coroutine never awaited): the standard path computes it, once."""
    answers, calls = [], []
    for fast in (False, True):
        COMPUTED_CALLS.clear()
        result = await _box_schema(fast).execute(query)
        assert result.errors is None
        answers.append(result.data)
        calls.append(COMPUTED_CALLS.count("later"))
    assert answers[0] == answers[1]
    assert calls[0] == calls[1] == (2 if "later" in query else 0)  # once per box
    assert answers[1] is not None
    assert answers[1]["boxes"][0]["leaves"][1] == {"label": "a-2"}
