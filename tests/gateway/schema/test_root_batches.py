"""Root fields with a batch form: many aliased ones resolved by one call, each answered exactly as
its resolver would have (gateway/schema/speed/executor.py: ``FastExecutionContext.execute_fields``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from gateway.schema import speed
from gateway.schema.speed import BATCHED_BY, FastExecutionContext
from tests.gateway.schema.test_executor import assert_same

LOADS: list[list[str]] = []
RESOLVED: list[str] = []


@strawberry.type
class Item:
    name: str
    count: int


ITEMS = {
    "1": Item(name="one", count=1),
    "2": Item(name="two", count=2),
    "3": Item(name="three", count=3),
    "broken": Item(name=None, count=0),  # type: ignore[arg-type]
}


REPLY_ORDER = {"lost": 0, "3": 2, "gone": 3}
"""The (simulated) upstream answers in its own order, not in the order asked: "lost" first."""
PENDING: list[tuple[int, str, asyncio.Future[Item]]] = []


def start_items(_info: Info[Any, Any], ids: list[str]) -> list[asyncio.Future[Item] | Exception]:
    """A malformed id fails at once; a missing one once its (simulated) load settles."""
    LOADS.append(list(ids))
    loop = asyncio.get_running_loop()
    started: list[asyncio.Future[Item] | Exception] = []
    for id in ids:
        if not id.isalnum():
            started.append(ValueError(f"malformed id {id!r}"))
            continue
        future: asyncio.Future[Item] = loop.create_future()
        PENDING.append((REPLY_ORDER.get(id, 1), id, future))
        started.append(future)
    # Once every field of this turn has asked (one batch, or one resolver task each): no clock.
    loop.call_soon(_reply)
    return started


def _reply() -> None:
    for _, id, future in sorted(PENDING, key=lambda pending: pending[0]):
        if not future.done():
            item = ITEMS.get(id)
            if item is None:
                future.set_exception(LookupError(f"no item {id}"))
            else:
                future.set_result(item)
    PENDING.clear()


async def _one(info: Info[Any, Any], id: str) -> Item:
    RESOLVED.append(id)
    [started] = start_items(info, [id])
    if isinstance(started, Exception):
        raise started
    return await started


@strawberry.type
class Query:
    @strawberry.field(metadata={BATCHED_BY: start_items})
    async def item(self, info: Info[Any, Any], id: strawberry.ID) -> Item | None:
        return await _one(info, id)

    @strawberry.field(metadata={BATCHED_BY: start_items})
    async def must(self, info: Info[Any, Any], id: strawberry.ID) -> Item:
        return await _one(info, id)

    @strawberry.field
    def plain(self) -> str:
        return "p"

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return "l"


class CountResolves(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def build(fast: bool, extensions: tuple[type[SchemaExtension], ...] = ()) -> strawberry.Schema:
    built = strawberry.Schema(
        query=Query,
        execution_context_class=FastExecutionContext if fast else None,
        extensions=list(extensions),
    )
    if fast:
        speed.install(built)
    return built


QUERIES = [
    '{ a: item(id: "1") { name } b: item(id: "2") { name count } }',
    '{ a: item(id: "1") { name } x: plain b: item(id: "nope") { name } y: later'
    ' c: item(id: "3") { name } }',
    '{ a: item(id: "gone") { name } b: item(id: "n-o") { name } c: item(id: "x/y") { name }'
    ' d: item(id: "lost") { name } e: item(id: "2") { count } }',
    "query($i: ID!, $j: ID!) { a: item(id: $i) { name } b: item(id: $j) { ...F } }"
    " fragment F on Item { count }",
    '{ a: item(id: "broken") { name } b: item(id: "1") { name } }',
    '{ a: must(id: "1") { name } b: must(id: "nope") { name } }',
    '{ a: item(id: "1") { name } a2: item(id: "1") { count } __typename }',
    'query($x: Boolean!) { a: item(id: "1") @include(if: $x) { name } b: item(id: "2") { name } }',
    'query($x: Boolean!) { a: item(id: "1") @skip(if: $x) { name } b: item(id: "2") { name } }',
    '{ a: item(id: "1") { name } b: must(id: "2") { name } c: item(id: "3") { count } }',
    '{ item(id: "1") { name } }',
]


@pytest.fixture(autouse=True)
def clean() -> None:
    LOADS.clear()
    RESOLVED.clear()
    PENDING.clear()


@pytest.mark.parametrize("query", QUERIES)
async def test_same_answers_and_errors_as_field_by_field(query: str) -> None:
    variables = {"i": "2", "j": "nope", "x": True}
    stock = await build(fast=False).execute(query, variable_values=variables)
    ours = await build(fast=True).execute(query, variable_values=variables)
    assert_same(ours, stock)


async def test_aliased_fields_are_one_call_and_no_resolver() -> None:
    query = (
        '{ a: item(id: "1") { name } x: plain b: item(id: "2") { name } c: item(id: "3") { name } }'
    )
    result = await build(fast=True).execute(query)
    assert result.errors is None
    assert result.data == {
        "a": {"name": "one"},
        "x": "p",
        "b": {"name": "two"},
        "c": {"name": "three"},
    }
    assert list(result.data) == ["a", "x", "b", "c"]  # the document's order
    assert LOADS == [["1", "2", "3"]]
    assert RESOLVED == []


async def test_one_call_per_field_with_a_batch_form() -> None:
    query = '{ a: item(id: "1") { name } b: must(id: "2") { name } c: item(id: "3") { name } }'
    result = await build(fast=True).execute(query)
    assert result.errors is None
    assert sorted(LOADS) == [["1", "3"], ["2"]]


async def test_resolver_middleware_sees_every_field_so_nothing_is_batched() -> None:
    query = '{ a: item(id: "1") { name } b: item(id: "2") { name } }'
    result = await build(fast=True, extensions=(CountResolves,)).execute(query)
    assert result.errors is None
    assert RESOLVED == ["1", "2"]


def test_only_fields_with_nothing_around_their_resolver_are_listed() -> None:
    root = speed.graphql_schema(build(fast=True)).query_type
    assert root is not None
    assert set(root.extensions[speed.ROOT_BATCHES]) == {"item", "must"}
    stock = speed.graphql_schema(build(fast=False)).query_type
    assert stock is not None
    assert speed.ROOT_BATCHES not in (stock.extensions or {})


async def test_the_stock_context_runs_each_field_itself() -> None:
    built = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    result = await built.execute('{ a: item(id: "1") { name } b: item(id: "2") { name } }')
    assert result.errors is None
    assert RESOLVED == ["1", "2"]


class TeamInfo(Info[Any, Any]):
    """A schema's own Info class (``StrawberryConfig.info_class``)."""


async def test_the_batch_gets_the_info_class_the_resolvers_get() -> None:
    seen: list[type] = []
    built = strawberry.Schema(
        query=Query,
        execution_context_class=FastExecutionContext,
        config=StrawberryConfig(info_class=TeamInfo),
    )
    speed.install(built)
    root = speed.graphql_schema(built).query_type
    assert root is not None
    batch = root.extensions[speed.ROOT_BATCHES]["item"]

    def recording(info: Info[Any, Any], ids: list[str]) -> list[asyncio.Future[Item] | Exception]:
        seen.append(type(info))
        return start_items(info, ids)

    root.extensions = {
        **root.extensions,
        speed.ROOT_BATCHES: {"item": batch._replace(start=recording)},
    }
    result = await built.execute('{ a: item(id: "1") { name } b: item(id: "2") { name } }')
    assert result.errors is None
    assert seen == [TeamInfo]
