"""Sub-selections collected once across requests, and only where nothing but the document
decides them (gateway/schema/speed/executor.py: ``FastExecutionContext.collect_subfields``)."""

from __future__ import annotations

from typing import Any

import graphql.execution.executor as executor
import pytest
from graphql import ExecutionResult, execute, parse
from graphql.execution.collect_fields import collect_subfields

from gateway.schema.speed import FastExecutionContext, graphql_schema
from tests.gateway.schema.test_executor import build

ALIASED = "{ a: items { name count tags } b: items { name colour } c: first { name shout } }"
CONDITIONAL = "query($x: Boolean!) { a: items { name @include(if: $x) count } }"
SCHEMA = graphql_schema(build(FastExecutionContext))


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each run of graphql-core's own collection (the library's function, counted)."""
    calls: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("collected")
        return collect_subfields(*args, **kwargs)

    monkeypatch.setattr(executor, "collect_subfields", counted)
    return calls


def run(text_or_document: Any, variables: dict[str, Any] | None = None) -> ExecutionResult:
    document = parse(text_or_document) if isinstance(text_or_document, str) else text_or_document
    result = execute(
        SCHEMA,
        document,
        variable_values=variables,
        executor_class=FastExecutionContext,
    )
    assert isinstance(result, ExecutionResult)
    return result


def test_a_cached_document_is_collected_once(collections: list[str]) -> None:
    document = parse(ALIASED)  # one object, as the gateway's parse cache hands it out
    first = run(document)
    assert first.errors is None
    collected = len(collections)
    assert collected > 0
    for _ in range(3):
        assert run(document) == first
    assert len(collections) == collected  # nothing collected again
    assert run(ALIASED) == first  # a new document object is collected for itself
    assert len(collections) == 2 * collected


def test_conditions_are_collected_per_request(collections: list[str]) -> None:
    document = parse(CONDITIONAL)
    shown = run(document, {"x": True})
    hidden = run(document, {"x": False})
    assert shown.data == {"a": [{"name": "a", "count": 1}, {"name": "b", "count": 2}]}
    assert hidden.data == {"a": [{"count": 1}, {"count": 2}]}
    before = len(collections)
    assert run(document, {"x": True}) == shown
    assert len(collections) > before  # collected again: the variables decide
