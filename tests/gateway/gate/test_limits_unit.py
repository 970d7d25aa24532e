"""The bounds and the cost walk of gateway/gate/limits.py, called directly: each bound at its
value and one past it, what the walk multiplies and what it leaves out, and the sources a
runtime's adapters add up to. tests/gateway/schema/test_limits*.py show the same refusals through
a served gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_introspection_query,
    parse,
)

from adapters.base import Capability
from gateway.config import LimitsConfig
from gateway.core.errors import GatewayError
from gateway.core.feed import MAX_FIRST
from gateway.core.pending import UPSTREAM_PAGE_SIZE
from gateway.gate import limits as limits_module
from gateway.gate.limits import (
    ASSUMED_FANOUT,
    COST_CACHE_DOCUMENT_BYTES,
    DECISION_CALLS,
    INTROSPECTION_COST,
    STANDARD_INTROSPECTION_DEPTH,
    DocumentLimits,
    Estimate,
    Sources,
    cost_key,
    estimate_cost,
    limit_error,
)
from gateway.schema import schema as gateway_schema
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    from graphql import GraphQLError

TREE = build_schema(
    """
    interface Node { id: ID! }
    union Found = Execution | Step
    type Query {
      execution(id: ID): Execution
      executions(ids: [ID!]): [Execution!]!
      node: Node
      found: [Found!]!
      items(first: Int, last: Int): ItemConnection
      page(first: Int! = 20): ItemConnection
      unpaged(first: Int): ItemConnection
      batch(ids: [ID!]): ItemConnection
      tail(last: Int): ItemConnection
      ping: Int
    }
    type Mutation { approve: Int }
    type ItemConnection { edges: [Edge!]!, nodes: [Execution!]!, info: Info, others: [Execution!]! }
    type Info { nodes: [Execution!]! }
    type Edge { node: Execution! }
    type Execution implements Node {
      id: ID!
      name: String
      steps: [Step!]!
      children: [Execution!]!
      parent: Execution
      related: ItemConnection
    }
    type Step { execution: Execution!, name: String, child: Execution }
    """
)
"""Shaped as the gateway's schema is for the walk: loaded types, lists, pages, a back-reference."""


@strawberry.type(name="Execution")
class Item:
    id: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field
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
    assert Sources(listing=3, approving=2).own_calls(parent, name) == expected


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


# -- the bounds ---------------------------------------------------------------------------------


def test_a_limit_error_names_the_limit_and_its_value() -> None:
    error = limit_error("max_depth", 12, "Too deep")
    assert error.message == "Too deep; this gateway accepts at most 12 (limits.max_depth)."
    assert error.extensions == {"code": "BAD_USER_INPUT", "limit": "max_depth", "allowed": 12}


def test_the_document_size_is_counted_in_utf8_bytes() -> None:
    limits = DocumentLimits(LimitsConfig(max_document_bytes=10))
    assert limits.size_error("{ a }     ") is None  # 10 bytes
    assert limits.size_error("{ é }    ") is None  # 10 bytes, 9 characters
    error = limits.size_error("{ é }     ")
    assert error is not None
    assert error.message == (
        "The document is 11 bytes; this gateway accepts at most 10 (limits.max_document_bytes)."
    )
    assert limits.size_error("\ud800" * 3) is None  # a lone surrogate: 3 bytes, no crash
    assert limits.size_error("\ud800" * 4) is not None


def test_tokens_are_bounded_while_parsing() -> None:
    limits = DocumentLimits(LimitsConfig(max_tokens=4))
    assert limits.parse("{ a b }") is limits.parse_again("{ a b }")  # 4 tokens, kept
    with pytest.raises(GatewayError, match="more than 4 tokens") as caught:
        limits.parse("{ a b c }")
    assert caught.value.extensions == {
        "code": "BAD_USER_INPUT",
        "limit": "max_tokens",
        "allowed": 4,
    }


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("{ a b", "GRAPHQL_PARSE_FAILED", id="syntax-at-the-bound"),
        pytest.param("{ a b c", "BAD_USER_INPUT", id="over-the-bound"),
        pytest.param('{ a "', "GRAPHQL_PARSE_FAILED", id="lexical-before-the-bound"),
        pytest.param('{ a b c "', "BAD_USER_INPUT", id="lexical-after-the-bound"),
        pytest.param("{ a ) b c d", "GRAPHQL_PARSE_FAILED", id="grammar-before-the-bound"),
    ],
)
def test_a_syntax_error_is_told_from_too_many_tokens(query: str, code: str) -> None:
    with pytest.raises(GatewayError) as caught:
        DocumentLimits(LimitsConfig(max_tokens=3)).parse(query)
    assert (caught.value.extensions or {})["code"] == code


def test_comments_count_as_the_parser_counts_them() -> None:
    """graphql-core counts comments towards max_tokens: so does the refusal's wording."""
    with pytest.raises(GatewayError) as caught:
        DocumentLimits(LimitsConfig(max_tokens=4)).parse("{ a # one\n# two\n b }")
    assert (caught.value.extensions or {}).get("limit") == "max_tokens"


def test_a_syntax_error_keeps_its_place() -> None:
    with pytest.raises(GatewayError) as caught:
        DocumentLimits(LimitsConfig()).parse("{\n  a(")
    error = caught.value
    assert error.extensions == {
        "code": "GRAPHQL_PARSE_FAILED",
        "locations": [{"line": 2, "column": 5}],
    }
    assert error.message == "Syntax Error: Expected Name, found <EOF>."


def errors(
    query: str, limits: LimitsConfig | None = None, *, introspection: bool = True
) -> list[tuple[str | None, str]]:
    """Each validation error's limit (None: not a bound) and message, on ``TREE``."""
    found = DocumentLimits(limits or LimitsConfig(), introspection=introspection)
    result = []
    for error in found.validation_errors(TREE, query, parse(query)):
        extensions = error.extensions or {}
        if "limit" not in extensions:
            assert extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
        else:
            assert extensions["code"] == "BAD_USER_INPUT"
        result.append((extensions.get("limit"), error.message))
    return result


def nested(levels: int, leaf: str = "id") -> str:
    selection = leaf
    for _ in range(levels - 1):
        selection = f"parent {{ {selection} }}"
    return f"execution {{ {selection} }}"


def test_depth_is_bounded_at_its_value() -> None:
    limits = LimitsConfig(max_depth=3)
    assert errors(f"{{ {nested(3)} }}", limits) == []
    assert errors(f"{{ {nested(4)} }}", limits) == [
        (
            "max_depth",
            "The operation nests fields more than 3 deep; this gateway accepts at most 3 "
            "(limits.max_depth).",
        )
    ]


def test_depth_counts_through_every_kind_of_fragment() -> None:
    limits = LimitsConfig(max_depth=3)
    inline = "{ execution { ... on Execution { parent { parent { id } } } } }"
    assert errors(inline, limits) == []
    assert [e[0] for e in errors(inline.replace("{ id }", "{ parent { id } }"), limits)] == [
        "max_depth"
    ]
    named = "{ execution { ...F } } fragment F on Execution { parent { ...G } }"
    assert errors(named + " fragment G on Execution { parent { id } }", limits) == []
    deeper = named + " fragment G on Execution { parent { parent { id } } }"
    assert [e[0] for e in errors(deeper, limits)] == ["max_depth"]


def test_a_deep_operation_is_reported_once() -> None:
    limits = LimitsConfig(max_depth=2)
    deep = f"query A {{ {nested(3)} }} query B {{ {nested(3)} }}"
    assert [e[0] for e in errors(deep, limits)] == ["max_depth"]
    assert [e[0] for e in errors(f"query A {{ ping }} query B {{ {nested(3)} }}", limits)] == [
        "max_depth"
    ]


def test_introspection_counts_from_its_field_to_the_standard_depth() -> None:
    assert STANDARD_INTROSPECTION_DEPTH == 14
    full = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert errors(full, LimitsConfig(max_depth=3)) == []


def introspection(levels: int) -> str:
    """``__schema`` and ``levels - 1`` fields nested below it."""
    selection = "name"
    for _ in range(levels - 2):
        selection = f"ofType {{ {selection} }}"
    return f"{{ __schema {{ types {{ {selection} }} }} }}"


def test_introspection_may_nest_to_the_standard_depth_or_max_depth() -> None:
    at = STANDARD_INTROSPECTION_DEPTH
    assert errors(introspection(at), LimitsConfig(max_depth=3)) == []
    assert errors(introspection(at + 1), LimitsConfig(max_depth=3)) == [
        (
            "max_depth",
            f"The operation nests introspection fields more than {at} deep (the standard "
            "introspection query's depth, or max_depth if more); this gateway accepts at most "
            f"{at} (limits.max_depth).",
        )
    ]
    assert errors(introspection(at + 2), LimitsConfig(max_depth=at + 2)) == []
    assert [e[0] for e in errors(introspection(at + 3), LimitsConfig(max_depth=at + 2))] == [
        "max_depth"
    ]


def test_introspection_depth_counts_through_fragments() -> None:
    limits = LimitsConfig(max_depth=3)
    at = STANDARD_INTROSPECTION_DEPTH
    inner = introspection(at + 1)[2:-2]  # the __schema field alone
    assert [e[0] for e in errors(f"{{ ... {{ {inner} }} }}", limits)] == ["max_depth"]
    spread = f"{{ ...S }} fragment S on Query {{ {inner} }}"
    assert [e[0] for e in errors(spread, limits)] == ["max_depth"]
    types = "ofType { " * (at - 1) + "name" + " }" * (at - 1)
    inside = f"{{ __schema {{ ...T }} }} fragment T on __Schema {{ types {{ {types} }} }}"
    assert [e[0] for e in errors(inside, limits)] == ["max_depth"]
    inline_inside = f"{{ __schema {{ ... on __Schema {{ types {{ {types} }} }} }} }}"
    assert [e[0] for e in errors(inline_inside, limits)] == ["max_depth"]
    within = "{ __schema { types { ...O } } } fragment O on __Type { %s }"
    assert [e[0] for e in errors(within % types, limits)] == ["max_depth"]
    shallower = "ofType { " * (at - 2) + "name" + " }" * (at - 2)
    assert errors(within % shallower, limits) == []


def test_introspection_fields_are_no_depth_of_their_own() -> None:
    # __schema nests 3 here and no other field nests: within max_depth 1 for the rest
    assert errors("{ __schema { types { name } } ping }", LimitsConfig(max_depth=1)) == []
    assert errors("{ __typename execution { id } }", LimitsConfig(max_depth=1)) == []


def test_aliases_are_bounded_across_operations_and_spreads() -> None:
    limits = LimitsConfig(max_aliases=3)
    assert errors("{ a: ping b: ping execution { c: id } }", limits) == []
    assert errors("query A { a: ping b: ping } query B { c: ping d: ping }", limits) == [
        (
            "max_aliases",
            "The document uses 4 aliases; this gateway accepts at most 3 (limits.max_aliases).",
        )
    ]
    spread = "{ ...F ... on Query { ...F } } fragment F on Query { a: ping b: ping }"
    assert [e[0] for e in errors(spread, limits)] == ["max_aliases"]
    assert errors("{ ... on Query { a: ping b: ping c: ping } }", limits) == []
    assert [e[0] for e in errors("{ execution { a: id b: id c: id d: id } }", limits)] == [
        "max_aliases"
    ]


def test_introspection_fields_are_bounded_in_number() -> None:
    limits = LimitsConfig(max_introspection_fields=2)
    two = '{ a: __schema { __typename } b: __type(name: "Query") { name } }'
    assert errors(two, limits) == []
    three = "query A { __schema { __typename } } query B { ... on Query { ...S } __typename }"
    fragment = " fragment S on Query { a: __schema { __typename } b: __schema { __typename } }"
    assert errors(three + fragment, limits) == [
        (
            "max_introspection_fields",
            "The document selects __schema or __type 3 times; this gateway accepts at most 2 "
            "(limits.max_introspection_fields).",
        )
    ]


def test_every_bound_is_reported_together() -> None:
    limits = LimitsConfig(max_depth=1, max_aliases=0, max_introspection_fields=0)
    query = "{ a: __schema { __typename } execution { parent { id } } }"
    assert [e[0] for e in errors(query, limits)] == [
        "max_depth",
        "max_aliases",
        "max_introspection_fields",
    ]


def test_validation_failures_that_are_no_bound() -> None:
    assert errors("{ xyz }") == [(None, "Cannot query field 'xyz' on type 'Query'.")]
    assert errors("{ ...Nowhere }") == [(None, "Unknown fragment 'Nowhere'.")]
    refused = errors("{ __schema { __typename } }", introspection=False)
    assert [e[0] for e in refused] == [None]
    assert errors("{ __schema { __typename } }", introspection=True) == []


def test_validation_answers_a_fresh_copy_each_time() -> None:
    limits = DocumentLimits(LimitsConfig())
    query = "{ xyz }"
    first = limits.validation_errors(TREE, query, parse(query))
    first.clear()
    assert len(limits.validation_errors(TREE, query, parse(query))) == 1


# -- the cost bounds ----------------------------------------------------------------------------


def cost_error(
    limits: LimitsConfig,
    query: str,
    variables: dict[str, Any] | None = None,
    sources: Sources | None = None,
) -> GraphQLError | None:
    return DocumentLimits(limits).cost_error(
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
    limits = DocumentLimits(LimitsConfig(max_upstream_calls=3))
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


def test_a_default_without_an_ast_reads_as_none() -> None:
    execution = GraphQLObjectType("Execution", {"id": GraphQLField(GraphQLID)})
    connection = GraphQLObjectType(
        "ItemConnection",
        {"nodes": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(execution))))},
    )
    built = GraphQLSchema(
        GraphQLObjectType(
            "Query", {"items": GraphQLField(connection, {"first": GraphQLArgument(GraphQLInt)})}
        )
    )
    assert calls("{ items { nodes { id } } }", schema=built) == ASSUMED_FANOUT
    assert calls("{ items(first: 2) { nodes { id } } }", schema=built) == 2


def test_the_standard_introspection_depth_is_read_from_graphql_core() -> None:
    assert limits_module._standard_introspection_depth() == STANDARD_INTROSPECTION_DEPTH == 14


def test_introspection_is_on_by_default() -> None:
    query = "{ __schema { __typename } }"
    assert DocumentLimits(LimitsConfig()).validation_errors(TREE, query, parse(query)) == []


def test_the_parse_cache_is_bounded() -> None:
    limits = DocumentLimits(LimitsConfig(parser_cache_size=1))
    first = limits.parse("{ a }")
    assert limits.parse("{ a }") is first
    limits.parse("{ b }")
    assert limits.parse("{ a }") is not first


def test_an_introspection_refusal_still_counts_aliases_and_introspection() -> None:
    limits = LimitsConfig(max_depth=3, max_aliases=0, max_introspection_fields=0)
    deep = introspection(STANDARD_INTROSPECTION_DEPTH + 1).replace("__schema", "s: __schema")
    assert [e[0] for e in errors(deep, limits)] == [
        "max_depth",
        "max_aliases",
        "max_introspection_fields",
    ]


def test_a_field_before_a_fragment_counts_too() -> None:
    aliases = LimitsConfig(max_aliases=1)
    spread = "{ a: ping ...F } fragment F on Query { b: ping }"
    assert [e[0] for e in errors(spread, aliases)] == ["max_aliases"]
    fields = LimitsConfig(max_introspection_fields=1)
    inline = '{ __schema { __typename } ... on Query { __type(name: "Query") { name } } }'
    assert [e[0] for e in errors(inline, fields)] == ["max_introspection_fields"]
    named = "{ __schema { __typename } ...S } fragment S on Query { __schema { __typename } }"
    assert [e[0] for e in errors(named, fields)] == ["max_introspection_fields"]


def test_an_unknown_fragment_counts_nothing() -> None:
    limits = LimitsConfig(max_depth=0, max_aliases=0, max_introspection_fields=0)
    assert errors("{ ...Nowhere }", limits) == [(None, "Unknown fragment 'Nowhere'.")]
