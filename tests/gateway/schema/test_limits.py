"""Each operation limit refuses its abusive query: BAD_USER_INPUT naming the limit, no upstream call."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from graphql import build_schema as parse_sdl
from graphql import parse

from gateway.config import LimitsConfig, parse_config
from gateway.demo import demo_raw_config
from gateway.gate.cost import ASSUMED_FANOUT, estimate_cost
from gateway.http.app import create_app
from gateway.schema import build_schema, schema
from gateway.schema.speed import graphql_schema
from tests.serving import graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox

DEFAULTS = LimitsConfig()
KNOWN = "rv:exec_xyz789"


@asynccontextmanager
async def configured(
    sandbox_url: str, **sections: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """The demo gateway with some config sections replaced or extended."""
    raw, env = demo_raw_config(sandbox_url)
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    async with (
        serving(create_app(parse_config(raw, env))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    (error,) = body["errors"]
    assert isinstance(error, dict)
    return error


def assert_refused(body: dict[str, Any], limit: str, allowed: int) -> None:
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["allowed"] == allowed
    assert f"limits.{limit}" in error["message"]
    assert str(allowed) in error["message"]


def nested_children(levels: int) -> str:
    selection = "id"
    for _ in range(levels):
        selection = f"children {{ {selection} }}"
    return f'{{ execution(id: "{KNOWN}") {{ {selection} }} }}'


async def test_a_deep_query_is_refused(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    body = await graphql(gateway, nested_children(DEFAULTS.max_depth + 1))
    assert_refused(body, "max_depth", DEFAULTS.max_depth)
    assert "data" not in body or body["data"] is None
    assert sandbox.stats.total == 0


async def test_a_query_at_the_depth_limit_is_not_refused_for_depth(
    gateway: httpx.AsyncClient,
) -> None:
    body = await graphql(gateway, nested_children(DEFAULTS.max_depth - 1))
    assert all(e["extensions"].get("limit") != "max_depth" for e in body.get("errors", []))


async def test_too_many_aliases_are_refused(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    count = DEFAULTS.max_aliases + 1
    query = "{ " + " ".join(f"a{i}: sources {{ name }}" for i in range(count)) + " }"
    body = await graphql(gateway, query)
    assert_refused(body, "max_aliases", DEFAULTS.max_aliases)
    assert f"{count} aliases" in only_error(body)["message"]
    assert sandbox.stats.total == 0


async def test_aliases_in_fragments_count(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    aliases = " ".join(f"n{i}: name" for i in range(DEFAULTS.max_aliases + 1))
    query = f"query {{ sources {{ ...S }} }} fragment S on Source {{ {aliases} }}"
    body = await graphql(gateway, query)
    assert_refused(body, "max_aliases", DEFAULTS.max_aliases)


async def test_too_many_tokens_are_refused(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    query = "{ sources { " + "name " * DEFAULTS.max_tokens + "} }"
    assert len(query.encode()) < DEFAULTS.max_document_bytes
    body = await graphql(gateway, query)
    assert_refused(body, "max_tokens", DEFAULTS.max_tokens)
    assert sandbox.stats.total == 0


async def test_a_large_document_is_refused_before_parsing(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = "#" + "é" * DEFAULTS.max_document_bytes + f'\n{{ execution(id: "{KNOWN}") {{ id }} }}'
    body = await graphql(gateway, query)
    assert_refused(body, "max_document_bytes", DEFAULTS.max_document_bytes)
    assert f"is {len(query.encode())} bytes" in only_error(body)["message"]
    assert sandbox.stats.total == 0


async def test_too_many_ids_are_refused(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    ids = [f"rv:exec_{i}" for i in range(DEFAULTS.max_ids + 1)]
    body = await graphql(
        gateway, "query ($ids: [ID!]!) { executions(ids: $ids) { id } }", {"ids": ids}
    )
    assert_refused(body, "max_ids", DEFAULTS.max_ids)
    assert f"{DEFAULTS.max_ids + 1} ids" in only_error(body)["message"]
    assert sandbox.stats.total == 0


COSTLY = "query ($ids: [ID!]!) { executions(ids: $ids) { id children { id children { id } } } }"
"""Each id costs 1 + 10 children * (1 + 10 grandchildren) = 111."""


async def test_a_costly_query_is_refused(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    ids = [f"rv:exec_{i}" for i in range(50)]
    body = await graphql(gateway, COSTLY, {"ids": ids})
    assert_refused(body, "max_cost", DEFAULTS.max_cost)
    assert "estimated cost is 5550" in only_error(body)["message"]
    assert sandbox.stats.total == 0


async def test_the_same_query_for_fewer_ids_runs(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    body = await graphql(gateway, COSTLY, {"ids": [KNOWN]})
    assert "errors" not in body
    assert body["data"]["executions"][0]["id"] == KNOWN
    assert sandbox.stats.total >= 1


async def test_aliases_multiply_the_cost(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    ids = ", ".join(f'"rv:exec_{i}"' for i in range(DEFAULTS.max_ids))
    fields = " ".join(f"a{i}: executions(ids: [{ids}]) {{ children {{ id }} }}" for i in range(5))
    body = await graphql(gateway, f"{{ {fields} }}")
    assert_refused(body, "max_cost", DEFAULTS.max_cost)
    assert sandbox.stats.total == 0


def doubling_fragments(count: int, body: str) -> str:
    """Fragments each spreading the next one twice: 2**count spreads if expanded."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(count)]
    return "{ ...F0 } " + " ".join(fragments) + f" fragment F{count} on Query {{ {body} }}"


async def test_fragments_are_measured_once_not_per_spread(gateway: httpx.AsyncClient) -> None:
    # Walked once per spread (as strawberry's depth and alias limiters do), this never finishes.
    body = await graphql(gateway, doubling_fragments(40, "__typename"))
    assert body == {"data": {"__typename": "Query"}}


async def test_aliases_count_at_every_spread(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    body = await graphql(gateway, doubling_fragments(40, "t: __typename"))
    assert_refused(body, "max_aliases", DEFAULTS.max_aliases)
    assert f"uses {2**40} aliases" in only_error(body)["message"]


async def test_depth_counts_through_fragments(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    levels = DEFAULTS.max_depth + 1
    fragments = " ".join(
        f"fragment C{i} on Execution {{ children {{ ... on Execution {{ ...C{i + 1} }} }} }}"
        for i in range(levels)
    )
    query = f'{{ execution(id: "{KNOWN}") {{ ...C0 }} }} {fragments} fragment C{levels} on Execution {{ id }}'
    body = await graphql(gateway, query)
    assert_refused(body, "max_depth", DEFAULTS.max_depth)
    assert sandbox.stats.total == 0


async def test_an_unknown_fragment_is_a_validation_error_not_internal(
    gateway: httpx.AsyncClient,
) -> None:
    body = await graphql(gateway, "{ ...Nowhere }")
    error = only_error(body)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Nowhere" in error["message"]


async def test_limits_come_from_the_config(sandbox_url: str, sandbox: Sandbox) -> None:
    async with configured(sandbox_url, limits={"max_depth": 2, "max_ids": 2}) as client:
        body = await graphql(client, nested_children(2))
        assert_refused(body, "max_depth", 2)
        body = await graphql(client, '{ executions(ids: ["rv:a", "rv:b", "rv:c"]) { id } }')
        assert_refused(body, "max_ids", 2)
    assert sandbox.stats.total == 0


async def test_introspection_can_be_turned_off(sandbox_url: str, sandbox: Sandbox) -> None:
    async with configured(sandbox_url, server={"introspection": False}) as client:
        body = await graphql(client, "{ __schema { queryType { name } } }")
        assert body["errors"]
        for error in body["errors"]:
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert "introspection has been disabled" in error["message"]
        body = await graphql(client, "{ __typename }")
        assert body == {"data": {"__typename": "Query"}}


async def test_introspection_is_on_by_default(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, "{ __schema { queryType { name } } }")
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_a_refusal_is_a_400_for_graphql_response_json(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    response = await gateway.post(
        "/graphql",
        json={"query": nested_children(DEFAULTS.max_depth + 1)},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "data" not in body
    assert_refused(body, "max_depth", DEFAULTS.max_depth)


def test_extensions_leave_the_sdl_unchanged() -> None:
    limited = build_schema(LimitsConfig(max_depth=3), fast_paths=False)
    assert limited.as_str() == schema.as_str()


def test_build_schema_is_shared_per_config() -> None:
    assert build_schema(LimitsConfig(max_cost=7)) is build_schema(LimitsConfig(max_cost=7))


PAGED = parse_sdl(
    """
    directive @cost(upstreamCalls: Int!) on OBJECT | INTERFACE | FIELD_DEFINITION
    directive @listSize(sizedBy: String, slicingArguments: [String!], pageItems: Boolean)
      on FIELD_DEFINITION
    type Query {
      items(first: Int): ItemConnection @listSize(slicingArguments: ["first"])
      page(first: Int! = 20): ItemConnection @listSize(slicingArguments: ["first"])
      execution: Execution
    }
    type ItemConnection {
      edges: [Edge!]! @listSize(pageItems: true)
      nodes: [Execution!]! @listSize(pageItems: true)
    }
    type Edge { node: Execution! }
    type Execution @cost(upstreamCalls: 1) { id: ID!, steps: [Step!]!, children: [Execution!]! }
    type Step { execution: Execution! @cost(upstreamCalls: 0), name: String }
    """
)
"""Declared as the gateway's schema declares its costs (gateway/gate/cost.py)."""


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        pytest.param("{ execution { id } }", {}, 1, id="one-execution"),
        pytest.param("{ execution { children { id } } }", {}, 1 + ASSUMED_FANOUT, id="children"),
        pytest.param(
            "{ execution { steps { execution { id } } } }", {}, 1, id="back-reference-is-free"
        ),
        pytest.param("{ items(first: 7) { edges { node { id } } } }", {}, 7, id="first-counts"),
        pytest.param("{ items(first: 7) { nodes { id } } }", {}, 7, id="nodes-of-a-page"),
        pytest.param("{ page { nodes { id } } }", {}, 20, id="first-defaults-in-the-schema"),
        pytest.param(
            "query ($n: Int = 3) { items(first: $n) { nodes { id } } }", {}, 3, id="default"
        ),
        pytest.param(
            "query ($n: Int) { items(first: $n) { nodes { id } } }", {"n": 40}, 40, id="variable"
        ),
        pytest.param("{ items { nodes { id } } }", {}, ASSUMED_FANOUT, id="no-first"),
        pytest.param(
            "{ execution { ...F ... on Execution { children { id } } } }"
            " fragment F on Execution { children { id } }",
            {},
            1 + 2 * ASSUMED_FANOUT,
            id="fragments",
        ),
        pytest.param("{ __schema { types { name } } }", {}, 0, id="introspection-calls-nothing"),
    ],
)
def test_estimate_cost(query: str, variables: dict[str, Any], expected: int) -> None:
    assert estimate_cost(PAGED, parse(query), None, variables).calls == expected


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        pytest.param('["a", "b", "c"]', 3, id="literal"),
        pytest.param('"a"', 1, id="one-value"),
        pytest.param("$ids", 4, id="variable"),
    ],
)
def test_ids_set_the_cost_of_executions(ids: str, expected: int) -> None:
    query = f"query ($ids: [ID!]!) {{ executions(ids: {ids}) {{ id }} }}"
    variables = {"ids": ["a", "b", "c", "d"]}
    assert estimate_cost(graphql_schema(schema), parse(query), None, variables).calls == expected
