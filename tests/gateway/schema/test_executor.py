"""The speed work answers exactly as stock strawberry does, and never skips what guards a field."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.schema import build_schema, schema, speed
from gateway.schema.speed import PLAIN_LEAVES, PLAIN_OBJECTS, FastExecutionContext, graphql_schema

if TYPE_CHECKING:
    from strawberry.types import ExecutionResult


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Part:
    label: str
    size: int | None = None


@strawberry.type
class Item:
    name: str
    note: str | None
    colour: Colour
    count: int
    tags: list[str]
    parts: list[Part] = strawberry.field(default_factory=list)
    main: Part | None = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


BROKEN: dict[str, Any] = {}
"""Items whose attributes break the schema's promises, as a faulty model would."""


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [
            Item(name="a", note=None, colour=Colour.RED, count=1, tags=["x"]),
            Item(name="b", note="n", colour=Colour.BLUE, count=2, tags=[]),
        ]

    @strawberry.field
    def broken(self) -> list[Item | None]:
        return [Item(**fields) for fields in BROKEN.values()]

    @strawberry.field
    def first(self) -> Item:
        return Item(name="a", note=None, colour=Colour.RED, count=1, tags=["x"])

    @strawberry.field
    def one_broken(self) -> Item | None:
        return Item(**next(iter(BROKEN.values())))

    @strawberry.field
    def with_nulls(self) -> list[Item | None]:
        return [None, Item(name="e", note=None, colour=Colour.RED, count=3, tags=[]), None]

    @strawberry.field
    def assembled(self) -> list[Item]:
        """Items with plain nested objects: a good one, one whose part breaks its promise."""
        parts = [Part(label="p", size=1), Part(label="q")]
        broken_part = Part(label=None, size=2)  # type: ignore[arg-type]
        return [
            Item(name="f", note=None, colour=Colour.RED, count=1, tags=[], parts=parts),
            Item(name="g", note="n", colour=Colour.BLUE, count=2, tags=[], main=parts[0]),
            Item(name="h", note=None, colour=Colour.RED, count=3, tags=[], parts=[broken_part]),
        ]

    @strawberry.field
    def whole(self) -> list[Item]:
        parts = [Part(label="p", size=1), Part(label="q")]
        return [
            Item(name="f", note=None, colour=Colour.RED, count=1, tags=[], parts=parts),
            Item(name="g", note="n", colour=Colour.BLUE, count=2, tags=[], main=parts[1]),
        ]


class CountResolves(SchemaExtension):
    calls = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        CountResolves.calls += 1
        return _next(root, info, *args, **kwargs)


def build(context_class: type, extensions: tuple[type[SchemaExtension], ...] = ()) -> Any:
    built = strawberry.Schema(
        query=Query, execution_context_class=context_class, extensions=list(extensions)
    )
    if issubclass(context_class, FastExecutionContext):
        speed.install(built)
    return built


QUERIES = [
    "{ items { name note colour count tags shout } }",
    "{ items { n: name n2: name __typename ...F } } fragment F on Item { colour count }",
    "query($x: Boolean!) { items { name @include(if: $x) note @skip(if: $x) count } }",
    "{ broken { name colour count } }",
    # Objects whose selection is all plain leaves: answered whole, or sent the standard way.
    "{ items { name note colour count } first { count name } }",
    "query($x: Boolean!) { items { a: name b: count @include(if: $x) c: colour @skip(if: $x) } }",
    "{ items { ... on Item { name } ...F } } fragment F on Item { count }",
    "{ oneBroken { name count } withNulls { name count } }",
    "{ items { name __typename } }",
    # Plain nested objects and lists of them: answered whole, or the whole item the standard way.
    "{ whole { name parts { label size } main { label } } }",
    "{ assembled { name parts { label size } main { size } } }",
    "{ whole { parts { label ...P } p: parts { size } } } fragment P on Part { size }",
    "query($x: Boolean!) { whole { name parts { label @include(if: $x) size } } }",
    "{ whole { name parts { label __typename } } }",
]


@pytest.fixture(autouse=True)
def faulty_items() -> Any:
    BROKEN.clear()
    BROKEN.update(
        {
            "null in a non-null": {
                "name": None,
                "note": None,
                "colour": Colour.RED,
                "count": 1,
                "tags": [],
            },
            "not an enum member": {
                "name": "c",
                "note": None,
                "colour": "green",
                "count": 1,
                "tags": [],
            },
            "not an int": {
                "name": "d",
                "note": None,
                "colour": Colour.BLUE,
                "count": "many",
                "tags": [],
            },
        }
    )
    yield
    BROKEN.clear()


def assert_same(ours: ExecutionResult, stock: ExecutionResult) -> None:
    """The same data, and the same errors (message and path) in the same order."""
    assert ours.data == stock.data
    assert [(e.message, e.path) for e in ours.errors or []] == [
        (e.message, e.path) for e in stock.errors or []
    ]


@pytest.mark.parametrize("query", QUERIES)
async def test_same_answers_and_errors_as_graphql_core(query: str) -> None:
    stock = await build(StrawberryGraphQLCoreExecutionContext).execute(
        query, variable_values={"x": True}
    )
    ours = await build(FastExecutionContext).execute(query, variable_values={"x": True})
    assert_same(ours, stock)


async def test_errors_are_those_of_the_standard_path() -> None:
    result = await build(FastExecutionContext).execute("{ broken { name colour count } }")
    assert result.data == {"broken": [None, None, None]}
    messages = {tuple(e.path or ()): e.message for e in result.errors or []}
    assert "Cannot return null for non-nullable field Item.name." in messages[("broken", 0, "name")]
    assert ("broken", 1, "colour") in messages
    assert ("broken", 2, "count") in messages


async def test_plain_leaves_skip_their_resolvers() -> None:
    built = build(FastExecutionContext)
    item = graphql_schema(built).type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    assert set(item.extensions[PLAIN_LEAVES]) == {"name", "note", "colour", "count"}
    calls: list[str] = []
    plain = item.fields["name"].resolve
    assert plain is not None

    def counted(source: Any, info: Any) -> Any:
        calls.append("name")
        return plain(source, info)

    item.fields["name"].resolve = counted
    result = await built.execute("{ items { name } }")
    assert result.data == {"items": [{"name": "a"}, {"name": "b"}]}
    assert calls == []  # read inline, not through the resolver


def build_counting() -> tuple[Any, list[str]]:
    """The schema with the speed work, and the fields graphql-core's per-field path executes."""
    fields: list[str] = []

    class Counting(FastExecutionContext):
        def execute_field(self, parent_type: Any, source: Any, details: Any, *args: Any) -> Any:
            fields.append(details[0].node.name.value)
            return super().execute_field(parent_type, source, details, *args)

    return build(Counting), fields


async def test_an_object_of_plain_leaves_is_answered_whole() -> None:
    built, fields = build_counting()
    result = await built.execute("{ items { name count } first { colour } }")
    assert result.data == {
        "items": [{"name": "a", "count": 1}, {"name": "b", "count": 2}],
        "first": {"colour": "RED"},
    }
    assert fields == ["items", "first"]  # no per-field work below them
    fields.clear()
    result = await built.execute("{ items { name tags } }")  # a list of strings is no plain leaf
    assert not result.errors
    assert fields == ["items", "name", "tags", "name", "tags"]


async def test_resolver_middleware_sees_every_field() -> None:
    query = "{ items { name note colour count tags shout } }"
    counts = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
        CountResolves.calls = 0
        result = await build(context_class, (CountResolves,)).execute(query)
        assert not result.errors
        counts.append(CountResolves.calls)
    assert counts[0] == counts[1] == 1 + 2 * 6


async def test_plain_nested_objects_are_answered_whole() -> None:
    built, fields = build_counting()
    result = await built.execute("{ whole { name parts { label } main { size } } }")
    assert result.data == {
        "whole": [
            {"name": "f", "parts": [{"label": "p"}, {"label": "q"}], "main": None},
            {"name": "g", "parts": [], "main": {"size": None}},
        ]
    }
    assert fields == ["whole"]
    fields.clear()
    result = await built.execute("{ assembled { name parts { label } } }")
    assert result.data is None  # the broken part nulls its non-null parents, up to the root
    assert [e.path for e in result.errors or []] == [["assembled", 2, "parts", 0, "label"]]
    assert fields[:3] == ["assembled", "name", "parts"]  # the standard way, field by field


def test_the_gateway_schema_uses_it_and_marks_its_leaves() -> None:
    assert schema.execution_context_class is FastExecutionContext
    execution = graphql_schema(schema).type_map["Execution"]
    assert isinstance(execution, GraphQLObjectType)
    leaves = execution.extensions[PLAIN_LEAVES]
    # status is a plain field; a list item's is Computed, which the standard path answers.
    assert {"id", "startedAt", "durationMs", "status"} <= set(leaves)
    assert "steps" not in leaves  # not a leaf
    assert execution.extensions[PLAIN_OBJECTS]["steps"].is_list  # a list of plain objects
    assert "source" not in leaves  # it has a resolver


def test_with_fast_paths_off_the_schema_is_stock_strawberry() -> None:
    stock = build_schema(fast_paths=False)
    assert stock.execution_context_class is not FastExecutionContext
    for graphql_type in graphql_schema(stock).type_map.values():
        assert PLAIN_LEAVES not in (getattr(graphql_type, "extensions", None) or {})


class Refuse(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Guarded:
    open: str
    secret: str = strawberry.field(permission_classes=[Refuse])
    shouted: str = strawberry.field(extensions=[Upper()])


@strawberry.type
class GuardedQuery:
    @strawberry.field
    def guarded(self) -> Guarded:
        return Guarded(open="o", secret="s", shouted="quiet")


@pytest.mark.parametrize("fast", [True, False], ids=["speed-on", "speed-off"])
async def test_a_permission_class_on_a_plain_field_is_enforced(fast: bool) -> None:
    built = strawberry.Schema(
        query=GuardedQuery,
        execution_context_class=FastExecutionContext if fast else None,
    )
    if fast:
        speed.install(built)
    result = await built.execute("{ guarded { open secret } }")
    assert result.data is None  # secret is non-null, so its error nulls the parent
    assert [e.message for e in result.errors or []] == ["not for you"]
    assert (await built.execute("{ guarded { open shouted } }")).data == {
        "guarded": {"open": "o", "shouted": "QUIET"}
    }
    guarded = graphql_schema(built).type_map["Guarded"]
    assert isinstance(guarded, GraphQLObjectType)
    leaves = guarded.extensions.get(PLAIN_LEAVES, {})
    assert set(leaves) == ({"open"} if fast else set())
    assert not speed.is_plain(guarded.fields["secret"])
    assert not speed.is_plain(guarded.fields["shouted"])
