"""The cost walk of gateway/gate/cost.py, called directly: what it multiplies and what it leaves
out, each read from what the schema declares (@cost, @fixedCost, @listSize), the cost bounds at
their value and one past it, and the sources a runtime's adapters add up to.
tests/gateway/schema/test_limits*.py show the same refusals through a served gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    parse,
)

from adapters.base import Capability
from gateway.config import LimitsConfig
from gateway.core.feed import MAX_FIRST
from gateway.core.pending import UPSTREAM_PAGE_SIZE
from gateway.gate.cost import (
    ASSUMED_FANOUT,
    COST_CACHE_DOCUMENT_BYTES,
    INTROSPECTION_COST,
    CallCost,
    CostLimit,
    CostTable,
    Estimate,
    ListSize,
    Sources,
    cost_key,
    estimate_cost,
)
from gateway.schema import schema as gateway_schema
from gateway.schema.mutation import DECISION_CALLS
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    from gateway.core.errors import GatewayError

TREE = build_schema(
    """
    directive @cost(upstreamCalls: Int!) on OBJECT | INTERFACE | FIELD_DEFINITION
    directive @fixedCost(upstreamCalls: Int!, perSource: String) on FIELD_DEFINITION
    directive @listSize(sizedBy: String, slicingArguments: [String!], pageItems: Boolean)
      on FIELD_DEFINITION
    interface Node @cost(upstreamCalls: 1) { id: ID! }
    union Found = Execution | Step
    type Query {
      execution(id: ID): Execution
      executions(ids: [ID!]): [Execution!]! @listSize(sizedBy: "ids")
      node: Node
      found: [Found!]!
      items(first: Int, last: Int): ItemConnection @listSize(slicingArguments: ["first", "last"])
      page(first: Int! = 20): ItemConnection @listSize(slicingArguments: ["first"])
      unpaged(first: Int): ItemConnection @listSize(slicingArguments: ["first"])
      batch(ids: [ID!]): ItemConnection @listSize(sizedBy: "ids")
      tail(last: Int): ItemConnection @listSize(slicingArguments: ["last"])
      ping: Int
      feed: Int @fixedCost(upstreamCalls: 2, perSource: "LIST")
    }
    type Mutation { approve: Int @fixedCost(upstreamCalls: 3) }
    type ItemConnection {
      edges: [Edge!]! @listSize(pageItems: true)
      nodes: [Execution!]! @listSize(pageItems: true)
      info: Info
      others: [Execution!]!
    }
    type Info { nodes: [Execution!]! @listSize(pageItems: true) }
    type Edge { node: Execution! }
    type Execution implements Node @cost(upstreamCalls: 1) {
      id: ID!
      name: String
      steps: [Step!]!
      children: [Execution!]!
      parent: Execution
      related: ItemConnection
    }
    type Step { execution: Execution! @cost(upstreamCalls: 0), name: String, child: Execution }
    """
)
"""Declared as the gateway's schema is for the walk (in SDL, as schema.graphql exports it): loaded
types, lists, pages, a back-reference, a field's own calls."""


@strawberry.type(name="Execution", directives=[CallCost(upstream_calls=1)])
class Item:
    id: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field(directives=[ListSize(slicing_arguments=["first"])])  # type: ignore[untyped-decorator]
    def items(self, first: int = 7) -> list[Item]:
        """A code-first default: graphql-core holds the value itself, not an AST."""
        return []


CODE_FIRST: GraphQLSchema = strawberry.Schema(query=Query)._schema


def calls(
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    schema: GraphQLSchema = TREE,
    name: str | None = None,
    sources: Sources | None = None,
) -> int:
    return estimate_cost(schema, parse(query), name, variables or {}, sources).calls


# -- what one operation may cost ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        pytest.param("{ ping }", {}, 0, id="a-leaf-costs-nothing"),
        pytest.param("{ __typename }", {}, 0, id="typename"),
        pytest.param("{ execution { id } }", {}, 1, id="a-loaded-type"),
        pytest.param("{ execution { parent { id } } }", {}, 2, id="loads-nest"),
        pytest.param("{ node { id } }", {}, 1, id="a-node-is-loaded"),
        pytest.param("{ execution { steps { name } } }", {}, 1, id="a-list-of-free-items"),
        pytest.param("{ execution { steps { child { id } } } }", {}, 1 + ASSUMED_FANOUT, id="fan"),
        pytest.param("{ execution { steps { execution { id } } } }", {}, 1, id="back-reference"),
        pytest.param(
            "{ execution { steps { execution { parent { id } } } } }",
            {},
            1 + ASSUMED_FANOUT,
            id="inside-a-back-reference",
        ),
        pytest.param('{ executions(ids: ["a", "b", "c"]) { id } }', {}, 3, id="ids-literal"),
        pytest.param('{ executions(ids: "a") { id } }', {}, 1, id="one-id-is-a-list-of-one"),
        pytest.param("{ executions(ids: null) { id } }", {}, 0, id="ids-null"),
        pytest.param(
            "query ($ids: [ID!]) { executions(ids: $ids) { id } }",
            {"ids": ["a", "b"]},
            2,
            id="ids-variable",
        ),
        pytest.param(
            "query ($ids: [ID!]) { executions(ids: $ids) { id } }",
            {"ids": "a"},
            1,
            id="ids-variable-one",
        ),
        pytest.param(
            "query ($ids: [ID!]) { executions(ids: $ids) { id } }",
            {"ids": None},
            0,
            id="ids-variable-null",
        ),
        pytest.param(
            'query ($ids: [ID!] = ["a", "b", "c", "d"]) { executions(ids: $ids) { id } }',
            {},
            4,
            id="ids-default",
        ),
        pytest.param(
            "query ($ids: [ID!]) { executions(ids: $ids) { id } }", {}, 0, id="ids-absent"
        ),
        pytest.param(
            "query ($ids: [ID!]) { executions(ids: [$ids, $ids]) { id } }",
            {"ids": "a"},
            2,
            id="a-list-of-variables",
        ),
        pytest.param(
            '{ executions(ids: ["a", "b"]) { children { id } } }',
            {},
            2 * (1 + ASSUMED_FANOUT),
            id="ids-multiply-what-is-nested",
        ),
        pytest.param("{ executions { id } }", {}, ASSUMED_FANOUT, id="no-ids"),
        pytest.param("{ items(first: 7) { nodes { id } } }", {}, 7, id="first"),
        pytest.param("{ items(last: 6) { nodes { id } } }", {}, 6, id="last"),
        pytest.param("{ items(first: 1) { nodes { id } } }", {}, 1, id="first-one"),
        pytest.param(
            f"{{ items(first: {MAX_FIRST}) {{ nodes {{ id }} }} }}", {}, MAX_FIRST, id="first-max"
        ),
        pytest.param("{ items(first: 7) { edges { node { id } } } }", {}, 7, id="edges"),
        pytest.param(
            "{ items(first: 7) { edges { node { children { id } } } } }",
            {},
            7 * (1 + ASSUMED_FANOUT),
            id="a-list-below-the-page-fans-out",
        ),
        pytest.param(
            "{ items(first: 7) { info { nodes { id } } } }",
            {},
            7,
            id="the-page-counts-through-an-object",
        ),
        pytest.param(
            "{ items(first: 7) { others { id } } }",
            {},
            7 * ASSUMED_FANOUT,
            id="another-list-in-a-page-fans-out",
        ),
        pytest.param(
            "{ items(first: 7) { nodes: others { id } } }",
            {},
            7 * ASSUMED_FANOUT,
            id="an-alias-is-no-page-list",
        ),
        pytest.param(
            "{ unpaged { nodes { id } } }", {}, ASSUMED_FANOUT, id="nodes-outside-a-page-fan-out"
        ),
        pytest.param("{ items { nodes { id } } }", {}, ASSUMED_FANOUT, id="no-first"),
        pytest.param("{ unpaged { info { id: __typename } } }", {}, 0, id="nothing-loaded"),
        pytest.param("{ page { nodes { id } } }", {}, 20, id="a-schema-default-in-sdl"),
        pytest.param(
            "query ($n: Int) { items(first: $n) { nodes { id } } }", {"n": 9}, 9, id="variable"
        ),
        pytest.param(
            "query ($n: Int = 3) { items(first: $n) { nodes { id } } }", {}, 3, id="default"
        ),
        pytest.param(
            "query ($n: Int = 3) { items(first: $n) { nodes { id } } }",
            {"n": 5},
            5,
            id="the-variable-over-its-default",
        ),
        pytest.param(
            "query ($n: Int) { items(first: $n) { nodes { id } } }",
            {},
            ASSUMED_FANOUT,
            id="variable-absent",
        ),
        pytest.param(
            "query ($n: Int) { items(first: $n) { nodes { id } } }",
            {"n": True},
            ASSUMED_FANOUT,
            id="a-boolean-is-no-count",
        ),
        pytest.param(
            "query ($n: Int) { items(first: $n, last: 4) { nodes { id } } }",
            {},
            4,
            id="last-when-first-is-absent",
        ),
        pytest.param(
            "{ execution { ... on Execution { children { id } } } }",
            {},
            1 + ASSUMED_FANOUT,
            id="inline-fragment",
        ),
        pytest.param(
            "{ execution { ... { children { id } } } }",
            {},
            1 + ASSUMED_FANOUT,
            id="inline-without-a-type",
        ),
        pytest.param(
            "{ node { ... on Execution { parent { id } } } }", {}, 2, id="a-type-condition"
        ),
        pytest.param(
            "{ execution { ... on Nowhere { parent { id } } } }",
            {},
            2,
            id="an-unknown-type-condition-reads-as-its-parent",
        ),
        pytest.param(
            "{ execution { ...F } } fragment F on Nowhere { parent { id } }",
            {},
            2,
            id="an-unknown-fragment-type-reads-as-its-parent",
        ),
        pytest.param(
            "{ items(first: 3) { ... on ItemConnection { nodes { id } } } }",
            {},
            3,
            id="a-page-counts-through-an-inline-fragment",
        ),
        pytest.param(
            "{ execution { ... on Execution { ...F } } } fragment F on Execution { parent { id } }",
            {},
            2,
            id="a-spread-in-an-inline-fragment",
        ),
        pytest.param(
            "{ execution { parent { id } ... on Execution { children { id } } } }",
            {},
            1 + 1 + ASSUMED_FANOUT,
            id="a-field-and-an-inline-fragment",
        ),
        pytest.param(
            "{ execution { parent { id } ...F } } fragment F on Execution { children { id } }",
            {},
            1 + 1 + ASSUMED_FANOUT,
            id="a-field-and-a-spread",
        ),
        pytest.param(
            "{ found { __typename ... on Execution { parent { id } } } }",
            {},
            ASSUMED_FANOUT,
            id="typename-on-a-union",
        ),
        pytest.param(
            '{ batch(ids: ["a", "b"]) { nodes { id } } }',
            {},
            2 * ASSUMED_FANOUT,
            id="ids-count-no-page",
        ),
        pytest.param("{ tail(last: 4) { nodes { id } } }", {}, 4, id="only-last"),
        pytest.param(
            "{ items(first: 3) { nodes { related { nodes { id } } } } }",
            {},
            3 * (1 + ASSUMED_FANOUT),
            id="a-page-inside-a-page-item-fans-out",
        ),
        pytest.param(
            "{ executions { related { nodes { id } } } }",
            {},
            ASSUMED_FANOUT * (1 + ASSUMED_FANOUT),
            id="a-page-inside-a-list-item-fans-out",
        ),
        pytest.param(
            "{ items(first: null) { nodes { id } } }", {}, ASSUMED_FANOUT, id="first-null"
        ),
        pytest.param(
            "query ($n: Int = null) { items(first: $n) { nodes { id } } }",
            {},
            ASSUMED_FANOUT,
            id="a-null-default",
        ),
        pytest.param("{ found { ... on Execution { id } } }", {}, 0, id="a-union-is-not-loaded"),
        pytest.param(
            "{ found { ... on Execution { parent { id } } } }",
            {},
            ASSUMED_FANOUT,
            id="through-a-union",
        ),
        pytest.param(
            "{ execution { ...F } } fragment F on Execution { children { id } }",
            {},
            1 + ASSUMED_FANOUT,
            id="named-fragment",
        ),
        pytest.param(
            "{ execution { ...F children { ...F } } } fragment F on Execution { parent { id } }",
            {},
            1 + 1 + ASSUMED_FANOUT * (1 + 1),
            id="a-fragment-at-each-place",
        ),
        pytest.param(
            "{ a: items(first: 3) { nodes { ...F } } b: execution { ...F } }"
            " fragment F on Execution { children { id } }",
            {},
            3 * (1 + ASSUMED_FANOUT) + 1 + ASSUMED_FANOUT,
            id="a-fragment-in-a-page-and-out",
        ),
        pytest.param(
            "{ items(first: 3) { ...P } execution { children { ...P2 } } }"
            " fragment P on ItemConnection { nodes { id } }"
            " fragment P2 on Execution { id }",
            {},
            3 + 1 + ASSUMED_FANOUT,
            id="a-page-list-in-a-fragment",
        ),
        pytest.param(
            "{ items(first: 3) { i: info { ...I } } unpaged { info { ...I } } }"
            " fragment I on Info { nodes { id } }",
            {},
            3 + ASSUMED_FANOUT,
            id="one-fragment-counted-in-and-out-of-a-page",
        ),
        pytest.param(
            "{ node { ...E } execution { ...E } } fragment E on Node { ... on Execution"
            " { parent { id } } }",
            {},
            2 + 2,
            id="a-fragment-under-two-parents",
        ),
        pytest.param("{ execution { ...Nowhere } }", {}, 1, id="an-unknown-fragment"),
        pytest.param(
            "{ execution { ...F } } fragment F on Execution { parent { ...F } }",
            {},
            2,
            id="a-fragment-cycle",
        ),
        pytest.param("{ execution { nope { id } } }", {}, 1, id="an-unknown-field"),
        pytest.param("{ __schema { types { name } } }", {}, 0, id="introspection-calls-nothing"),
    ],
)
def test_the_walk_counts_upstream_calls(
    query: str, variables: dict[str, Any], expected: int
) -> None:
    assert calls(query, variables) == expected


def test_a_code_first_default_counts() -> None:
    assert calls("{ items { id } }", schema=CODE_FIRST) == 7
    assert calls("{ items(first: 2) { id } }", schema=CODE_FIRST) == 2


def test_the_gateways_feed_counts_its_sources_and_its_page() -> None:
    feed = "{ executionFeed { edges { node { id } } } }"
    assert calls(feed, schema=GATEWAY) == 4 + 20  # four listing sources, a default page of 20
    assert calls(feed, schema=GATEWAY, sources=Sources(listing=2)) == 2 + 20


def test_the_chosen_operation_is_the_one_walked() -> None:
    document = "query A { ping } query B { execution { id } }"
    assert calls(document, name="B") == 1
    assert calls(document, name="A") == 0
    assert calls(document, name="C") == 0
    assert calls(document) == 0  # several without a name: the gate refuses them before
    assert calls("mutation { approve }", schema=build_schema("type Query { a: Int }")) == 0


def test_introspection_fields_count_apart() -> None:
    estimate = estimate_cost(
        TREE, parse('{ __schema { types { name } } t: __type(name: "Query") { name } }'), None, {}
    )
    assert (estimate.calls, estimate.introspection, estimate.cost) == (
        0,
        2,
        2 * INTROSPECTION_COST,
    )


def test_an_estimate_adds_and_multiplies() -> None:
    assert Estimate(2, 1) + Estimate(3, 4) == Estimate(5, 5)
    assert Estimate(2, 1).times(3) == Estimate(6, 3)
    assert Estimate(2, 1).cost == 2 + INTROSPECTION_COST


GATEWAY: GraphQLSchema = graphql_schema(gateway_schema)


@pytest.mark.parametrize(
    ("parent", "name", "expected"),
    [
        ("Query", "executionFeed", 3),
        ("Query", "pendingApprovals", 2 * (1 + UPSTREAM_PAGE_SIZE)),
        ("Query", "execution", 0),
        ("Query", "approve", 0),
        ("Mutation", "approve", DECISION_CALLS),
        ("Mutation", "reject", DECISION_CALLS),
        ("Mutation", "startExecution", DECISION_CALLS),
        ("Mutation", "cancelExecution", DECISION_CALLS),
        ("Mutation", "rerunExecution", DECISION_CALLS),
        ("Mutation", "executionFeed", 0),
        ("Execution", "executionFeed", 0),
    ],
)
def test_a_field_makes_its_own_calls(parent: str, name: str, expected: int) -> None:
    own = CostTable.of(GATEWAY).field(parent, name)
    assert own.own_calls(Sources(listing=3, approving=2)) == expected


def test_the_exported_sdl_declares_what_the_code_does() -> None:
    """schema.graphql (strawberry's print, built again from SDL) carries every cost: a client
    reading it reads the rules the gate applies."""
    exported = build_schema(gateway_schema.as_str())
    assert CostTable.of(exported).fields == CostTable.of(GATEWAY).fields
    assert CostTable.of(GATEWAY).fields  # the table is not empty by mistake


def test_a_declared_field_costs_per_its_sources() -> None:
    assert calls("{ feed }", sources=Sources(listing=3)) == 6
    assert calls("mutation { approve }") == 3


def test_a_capability_the_sources_are_not_counted_by_is_refused_at_start_up() -> None:
    odd = build_schema(
        "directive @fixedCost(upstreamCalls: Int!, perSource: String) on FIELD_DEFINITION\n"
        'type Query { a: Int @fixedCost(upstreamCalls: 1, perSource: "GET") }'
    )
    with pytest.raises(ValueError, match="not counted by GET"):
        CostTable.of(odd)
    assert Sources(listing=1, approving=2).having(Capability.APPROVE) == 2


def test_every_paged_field_of_the_gateway_declares_its_page() -> None:
    """A field with ``first`` or ``last`` that did not declare them would count 10 for a page
    of up to 100: each one says how its page is sized."""
    table = CostTable.of(GATEWAY)
    undeclared = [
        f"{named.name}.{name}"
        for named in GATEWAY.type_map.values()
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
        and not named.name.startswith("__")
        for name, definition in named.fields.items()
        if {"first", "last"} & set(definition.args)
        and not {"first", "last"} & set(table.field(named.name, name).slicing)
    ]
    assert undeclared == []


def test_the_default_sources_are_the_four_kinds() -> None:
    assert Sources() == Sources(listing=4, approving=4)


@dataclass
class Adapter:
    capabilities: frozenset[Capability]


@dataclass(eq=False)
class Runtime:
    adapters: dict[str, Adapter] = field(default_factory=dict)


@dataclass
class Context:
    runtime: object


@dataclass(eq=False, slots=True)
class SlottedRuntime:
    """A runtime that takes no weak reference."""

    adapters: dict[str, Adapter]


SOURCES = {
    "rv": Adapter(frozenset({Capability.GET, Capability.LIST, Capability.CHILDREN})),
    "velt": Adapter(frozenset({Capability.GET, Capability.LIST, Capability.APPROVE})),
    "zaia": Adapter(frozenset({Capability.GET, Capability.APPROVE})),
    "tl": Adapter(frozenset({Capability.GET})),
}


def test_sources_are_counted_from_the_runtimes_adapters() -> None:
    assert Sources.of(Context(Runtime(dict(SOURCES)))) == Sources(listing=2, approving=2)
    assert Sources.of(Context(SlottedRuntime(dict(SOURCES)))) == Sources(2, 2)


def test_sources_are_counted_once_per_runtime() -> None:
    runtime = Runtime(dict(SOURCES))
    assert Sources.of(Context(runtime)) == Sources(2, 2)
    runtime.adapters["more"] = Adapter(frozenset({Capability.LIST}))
    assert Sources.of(Context(runtime)) == Sources(2, 2)
    assert Sources.of(Context(Runtime(dict(runtime.adapters)))) == Sources(3, 2)


def test_without_a_started_runtime_the_worst_case_counts() -> None:
    assert Sources.of(object()) == Sources()
    assert Sources.of(Context(None)) == Sources()
    runtime = Runtime()
    assert Sources.of(Context(runtime)) == Sources()
    runtime.adapters.update(SOURCES)  # started now: counted, since nothing was kept before
    assert Sources.of(Context(runtime)) == Sources(2, 2)
    assert Sources.of(Context(SlottedRuntime({}))) == Sources()
    assert Sources.of(Context(Bare())) == Sources()


class Bare:
    """A runtime with no adapters at all."""


# -- the cost bounds ----------------------------------------------------------------------------


def cost_error(
    limits: LimitsConfig,
    query: str,
    variables: dict[str, Any] | None = None,
    sources: Sources | None = None,
) -> GatewayError | None:
    return CostLimit(limits).cost_error(
        TREE, query, parse(query), None, variables or {}, sources or Sources()
    )


def test_the_cost_is_bounded_at_its_value() -> None:
    query = "{ executions { id } __schema { __typename } }"  # 10 calls, cost 110
    assert cost_error(LimitsConfig(max_cost=110), query) is None
    error = cost_error(LimitsConfig(max_cost=109), query)
    assert error is not None
    assert error.message == (
        "The operation's estimated cost is 110 (each upstream call counts 1, each introspection "
        "field 100; ids, first/last, or else 10 per list, multiply what is nested in a list); "
        "this gateway accepts at most 109 (limits.max_cost)."
    )
    assert error.extensions == {"code": "BAD_USER_INPUT", "limit": "max_cost", "allowed": 109}


def test_upstream_calls_are_bounded_at_their_value() -> None:
    query = "{ executions { id } __schema { __typename } }"
    assert cost_error(LimitsConfig(max_upstream_calls=10), query) is None
    error = cost_error(LimitsConfig(max_upstream_calls=9), query)
    assert error is not None
    assert error.message == (
        "The operation may make 10 upstream calls; this gateway accepts at most 9 "
        "(limits.max_upstream_calls)."
    )
    assert error.extensions == {
        "code": "BAD_USER_INPUT",
        "limit": "max_upstream_calls",
        "allowed": 9,
    }


@pytest.mark.parametrize(("page", "value"), [("first", 0), ("first", -1), ("last", MAX_FIRST + 1)])
def test_a_page_out_of_bounds_is_refused_for_that(page: str, value: int) -> None:
    query = f"query ($n: Int) {{ items({page}: $n) {{ nodes {{ id }} }} }}"
    error = cost_error(LimitsConfig(), query, {"n": value})
    assert error is not None
    assert error.message == f"{page}: must be between 1 and {MAX_FIRST}, got {value}"
    assert error.extensions == {"code": "BAD_USER_INPUT"}


def test_an_estimate_is_kept_per_variable_shape() -> None:
    limits = CostLimit(LimitsConfig(max_upstream_calls=3))
    query = "query ($ids: [ID!]) { executions(ids: $ids) { id } }"
    document = parse(query)
    sources = Sources()

    def refused(variables: dict[str, Any]) -> bool:
        return limits.cost_error(TREE, query, document, None, variables, sources) is not None

    assert [refused({"ids": ["a"] * n}) for n in (3, 4, 3, 4, 2)] == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_the_cost_key_holds_what_the_walk_reads() -> None:
    sources = Sources()
    query = "query ($ids: [ID!], $n: Int, $s: String) { executions(ids: $ids) { id } }"

    def key(variables: dict[str, Any], name: str | None = None) -> object:
        return cost_key(query, name, variables, sources)

    assert key({"ids": ["a", "b"], "n": 3, "s": "x"}) == key({"s": "y", "n": 3, "ids": ["c", "d"]})
    assert key({"ids": ["a"]}) != key({"ids": ["a", "b"]})
    assert key({"ids": "a"}) != key({"ids": ["a"]})
    assert key({"n": 3}) != key({"n": 4})
    assert key({"n": None}) != key({})
    assert key({"n": None}) != key({"n": "None"})
    assert key({"s": "x"}) != key({"s": 1.5})
    assert key({"n": 1}, "A") != key({"n": 1}, "B")
    assert key({}) != cost_key("{ ping }", None, {}, sources)
    assert cost_key(query, None, {}, Sources(listing=1)) != key({})
    exact = "{" + " " * (COST_CACHE_DOCUMENT_BYTES - 2) + "}"
    assert cost_key(exact, None, {}, sources) is not None
    assert cost_key(exact + " ", None, {}, sources) is None
    assert cost_key(None, None, {}, sources) is None


def declaring(*directives: object) -> dict[str, Any]:
    """A hand-built field's declarations, where strawberry keeps them."""
    return {"strawberry-definition": SimpleNamespace(directives=list(directives))}


def test_a_default_without_an_ast_reads_as_none() -> None:
    execution = GraphQLObjectType(
        "Execution",
        {"id": GraphQLField(GraphQLID)},
        extensions=declaring(CallCost(upstream_calls=1)),
    )
    nodes = GraphQLNonNull(GraphQLList(GraphQLNonNull(execution)))
    connection = GraphQLObjectType(
        "ItemConnection",
        {"nodes": GraphQLField(nodes, extensions=declaring(ListSize(page_items=True)))},
    )
    items = GraphQLField(
        connection,
        {"first": GraphQLArgument(GraphQLInt)},
        extensions=declaring(ListSize(slicing_arguments=["first"])),
    )
    built = GraphQLSchema(GraphQLObjectType("Query", {"items": items}))
    assert calls("{ items { nodes { id } } }", schema=built) == ASSUMED_FANOUT
    assert calls("{ items(first: 2) { nodes { id } } }", schema=built) == 2
