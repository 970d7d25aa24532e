"""The shape bounds of gateway/gate/shape.py, called directly: each bound at its value and one
past it, the parser's verdict on tokens, and validation kept per text. tests/gateway/schema/
test_limits*.py show the same refusals through a served gateway."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query, parse

from gateway.config import LimitsConfig
from gateway.core.errors import GatewayError, limit_error
from gateway.gate import shape as shape_module
from gateway.gate.shape import STANDARD_INTROSPECTION_DEPTH, DocumentShape
from tests.gateway.gate.test_cost import TREE

# -- the bounds ---------------------------------------------------------------------------------


def test_a_limit_error_names_the_limit_and_its_value() -> None:
    error = limit_error("max_depth", 12, "Too deep")
    assert error.message == "Too deep; this gateway accepts at most 12 (limits.max_depth)."
    assert error.extensions == {"code": "BAD_USER_INPUT", "limit": "max_depth", "allowed": 12}


def test_the_document_size_is_counted_in_utf8_bytes() -> None:
    limits = DocumentShape(LimitsConfig(max_document_bytes=10))
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
    limits = DocumentShape(LimitsConfig(max_tokens=4))
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
        DocumentShape(LimitsConfig(max_tokens=3)).parse(query)
    assert (caught.value.extensions or {})["code"] == code


def test_comments_count_as_the_parser_counts_them() -> None:
    """graphql-core counts comments towards max_tokens: so does the refusal's wording."""
    with pytest.raises(GatewayError) as caught:
        DocumentShape(LimitsConfig(max_tokens=4)).parse("{ a # one\n# two\n b }")
    assert (caught.value.extensions or {}).get("limit") == "max_tokens"


def test_a_syntax_error_keeps_its_place() -> None:
    with pytest.raises(GatewayError) as caught:
        DocumentShape(LimitsConfig()).parse("{\n  a(")
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
    found = DocumentShape(limits or LimitsConfig(), introspection=introspection)
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
    limits = LimitsConfig(max_depth=1, max_aliases=1, max_introspection_fields=1)
    query = "{ a: __schema { __typename } b: __schema { __typename } execution { parent { id } } }"
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
    limits = DocumentShape(LimitsConfig())
    query = "{ xyz }"
    first = limits.validation_errors(TREE, query, parse(query))
    first.clear()
    assert len(limits.validation_errors(TREE, query, parse(query))) == 1


def test_the_standard_introspection_depth_is_read_from_graphql_core() -> None:
    assert shape_module._standard_introspection_depth() == STANDARD_INTROSPECTION_DEPTH == 14


def test_introspection_is_on_by_default() -> None:
    query = "{ __schema { __typename } }"
    assert DocumentShape(LimitsConfig()).validation_errors(TREE, query, parse(query)) == []


def test_the_parse_cache_is_bounded() -> None:
    limits = DocumentShape(LimitsConfig(parser_cache_size=1))
    first = limits.parse("{ a }")
    assert limits.parse("{ a }") is first
    limits.parse("{ b }")
    assert limits.parse("{ a }") is not first


def test_an_introspection_refusal_still_counts_aliases_and_introspection() -> None:
    limits = LimitsConfig(max_depth=3, max_aliases=1, max_introspection_fields=1)
    deep = introspection(STANDARD_INTROSPECTION_DEPTH + 1).replace("__schema", "s: __schema")
    deep = deep[:-1] + "t: __schema { __typename } }"
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
    limits = LimitsConfig(max_depth=1, max_aliases=1, max_introspection_fields=1)
    at_every_bound = "{ a: __schema { __typename } execution { id } ...Nowhere }"
    assert errors(at_every_bound, limits) == [(None, "Unknown fragment 'Nowhere'.")]
