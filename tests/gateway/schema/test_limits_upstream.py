"""Introspection and upstream calls are bounded: estimated before an operation runs, counted while
a query runs, refused with BAD_USER_INPUT naming the limit (docs/errors.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from graphql import get_introspection_query, parse

from gateway.config import LimitsConfig
from gateway.core.pending import UPSTREAM_PAGE_SIZE
from gateway.gate.cost import INTROSPECTION_COST, Sources, cost_key, estimate_cost
from gateway.gate.shape import STANDARD_INTROSPECTION_DEPTH
from gateway.schema import build_schema, schema
from gateway.schema.speed import graphql_schema
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

DEFAULTS = LimitsConfig()


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert isinstance(error, dict)
    return error


def test_max_aliases_is_thirty_as_documented() -> None:
    assert DEFAULTS.max_aliases == 30


async def test_many_schema_selections_are_refused_before_any_work(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    count = DEFAULTS.max_introspection_fields + 1
    query = "{ " + " ".join(f"s{n}: __schema {{ types {{ name }} }}" for n in range(count)) + " }"
    error = refusal(await graphql(gateway, query))
    assert error["extensions"]["limit"] == "max_introspection_fields"
    assert f"{count} times" in error["message"]
    assert sandbox.stats.total == 0


async def test_introspection_nested_past_the_standard_depth_is_refused(
    gateway: httpx.AsyncClient,
) -> None:
    selection = "name"
    for _ in range(STANDARD_INTROSPECTION_DEPTH):
        selection = f"ofType {{ {selection} }}"
    error = refusal(await graphql(gateway, f'{{ __type(name: "Execution") {{ {selection} }} }}'))
    assert error["extensions"]["limit"] == "max_depth"


async def test_the_standard_introspection_query_is_answered_and_built_once() -> None:
    built = build_schema(LimitsConfig(max_cost=4_999))  # a schema of its own: a fresh cache
    answers = built.introspection_answers
    assert answers is not None
    query = get_introspection_query(descriptions=True)
    first = await built.execute(query)
    assert not first.errors
    assert first.data is not None
    assert first.data["__schema"]["queryType"]["name"] == "Query"
    second = await built.execute(query)
    assert second.data == first.data
    assert answers.built == 1  # the second was not executed again
    await built.execute("{ __typename ok: __typename }")
    await built.execute("{ sources { name } }", context_value=None)
    assert answers.built == 2  # the other introspection-only text; sources is not one


def test_introspection_counts_in_the_cost() -> None:
    query = '{ __schema { types { name } } t: __type(name: "Execution") { name } }'
    estimate = estimate_cost(graphql_schema(schema), parse(query), None, {})
    assert (estimate.calls, estimate.introspection) == (0, 2)
    assert estimate.cost == 2 * INTROSPECTION_COST


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "{ pendingApprovals { edges { node { id } } } }",
            2 * (1 + UPSTREAM_PAGE_SIZE),
            id="pending-approvals-by-page-and-sources",
        ),
        pytest.param(
            "{ a: pendingApprovals { edges { node { id } } }"
            " b: pendingApprovals { edges { node { id } } } }",
            4 * (1 + UPSTREAM_PAGE_SIZE),
            id="aliases-multiply",
        ),
        pytest.param(
            "{ executionFeed(first: 5) { edges { node { id } } } }",
            3 + 5,
            id="feed-lists-per-source",
        ),
        pytest.param(
            'mutation { approve(input: {approvalId: "x"}) { __typename } }', 3, id="decision"
        ),
    ],
)
def test_listing_fields_cost_their_upstream_calls(query: str, expected: int) -> None:
    sources = Sources(listing=3, approving=2)
    estimate = estimate_cost(graphql_schema(schema), parse(query), None, {}, sources)
    assert estimate.calls == expected


async def test_an_operation_estimated_over_the_call_bound_is_refused(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    ids = [f"rv:exec_{n}" for n in range(5)]
    async with gateway_client(sandbox_url, limits={"max_upstream_calls": 4}) as client:
        body = await graphql(
            client, "query ($ids: [ID!]!) { executions(ids: $ids) { id } }", {"ids": ids}
        )
    error = refusal(body)
    assert error["extensions"]["limit"] == "max_upstream_calls"
    assert "may make 5 upstream calls" in error["message"]
    assert sandbox.stats.total == 0


def test_estimates_are_kept_per_variable_shape_not_per_value() -> None:
    query = "query ($ids: [ID!]!, $n: Int) { executions(ids: $ids) { id } }"
    sources = Sources()

    def key(variables: dict[str, Any]) -> object:
        return cost_key(query, None, variables, sources)

    assert key({"ids": ["rv:a", "rv:b"], "n": 3}) == key({"ids": ["velt:x", "zaia:y"], "n": 3})
    assert key({"ids": ["rv:a"], "n": 3}) != key({"ids": ["rv:a", "rv:b"], "n": 3})
    assert key({"ids": ["rv:a"], "n": 3}) != key({"ids": ["rv:a"], "n": 4})
    assert key({"ids": ["rv:a"]}) != key({"ids": ["rv:a"], "n": None})
    assert cost_key(query, None, {}, Sources(listing=1)) != cost_key(query, None, {}, sources)
    assert cost_key("{" + " " * 9000 + "}", None, {}, sources) is None


async def test_a_kept_estimate_is_not_reused_for_more_ids(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    query = "query ($ids: [ID!]!) { executions(ids: $ids) { id } }"
    async with gateway_client(sandbox_url, limits={"max_upstream_calls": 4}) as client:
        three = await graphql(client, query, {"ids": [f"rv:exec_{n}" for n in range(3)]})
        five = await graphql(client, query, {"ids": [f"rv:exec_{n}" for n in range(5)]})
        other_three = await graphql(client, query, {"ids": [f"rv:exec_{n}" for n in range(3, 6)]})
    assert refusal(five)["extensions"]["limit"] == "max_upstream_calls"
    for answered in (three, other_three):  # unknown ids: each a NOT_FOUND, none refused
        assert len(answered["data"]["executions"]) == 3
        assert {e["extensions"]["code"] for e in answered.get("errors", [])} <= {"NOT_FOUND"}
    assert sandbox.stats.total == 6


async def test_calls_past_the_bound_fail_while_the_rest_answers(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    # Estimated at 3 lists + 1 item = 4; the status filter makes the feed load items to check
    # them, so the query really makes more, and the budget stops it at 4.
    query = """{ executionFeed(first: 1, filter: {statuses: [WAITING_FOR_APPROVAL]}) {
        edges { node { id } } failedSources { source code } } }"""
    async with gateway_client(sandbox_url) as client:
        unbounded = await graphql(client, query)
    made = sandbox.stats.total
    assert made > 4, "the query must make more calls than its estimate for this test to bite"
    async with gateway_client(sandbox_url, limits={"max_upstream_calls": 4}) as client:
        body = await graphql(client, query)
    assert sandbox.stats.total - made == 4
    assert "errors" not in unbounded
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"BAD_USER_INPUT"}
    assert all("limits.max_upstream_calls" in e["message"] for e in body["errors"])
    assert body["data"]["executionFeed"]["failedSources"]
    assert {f["code"] for f in body["data"]["executionFeed"]["failedSources"]} == {"BAD_USER_INPUT"}
