"""End to end: the gateway and the sandbox, each under uvicorn on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.serving import graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

EXECUTION = """
query ($id: ID!) {
  execution(id: $id) {
    id nativeId status upstreamStatus durationMs
    source { name kind }
    workflow { id name }
    cost { amounts { amount currency } }
    steps { id index name kind status durationMs approval { status } execution { id } }
    approvals { id status decidedBy notes reviewers { id decision } step { nativeId } }
    startedAt completedAt
  }
}
"""


async def test_a_query_returns_the_normalized_execution(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, EXECUTION, {"id": "rv:exec_xyz789"})
    assert "errors" not in body
    execution = body["data"]["execution"]
    assert execution["id"] == "rv:exec_xyz789"
    assert execution["status"] == "COMPLETED"
    assert execution["source"] == {"name": "rv", "kind": "ROTAVISION"}
    assert execution["workflow"] == {"id": "wf_abc123", "name": "Customer Support Triage"}
    assert execution["cost"]["amounts"] == [
        {"amount": "0.012", "currency": "USD"},
        {"amount": "1.0", "currency": "INR"},
    ]
    assert execution["startedAt"] == "2026-02-01T10:30:00+00:00"
    assert [s["kind"] for s in execution["steps"]] == ["UNKNOWN", "HUMAN_APPROVAL", "UNKNOWN"]
    assert execution["steps"][1]["approval"] == {"status": "APPROVED"}
    assert {s["execution"]["id"] for s in execution["steps"]} == {"rv:exec_xyz789"}
    (approval,) = execution["approvals"]
    assert approval["status"] == "APPROVED"
    assert approval["step"] == {"nativeId": "step_2"}


async def test_the_demo_query_answers(gateway: httpx.AsyncClient) -> None:
    query = '{ execution(id: "rv:exec_wait0001") { status steps { kind status } approvals { status } } }'
    body = await graphql(gateway, query)
    assert "errors" not in body
    execution = body["data"]["execution"]
    assert execution["status"] == "WAITING_FOR_APPROVAL"
    assert execution["approvals"] == [{"status": "PENDING"}]


async def test_unknown_id_is_null_with_not_found(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, '{ execution(id: "rv:exec_nope") { id } }')
    assert body["data"] == {"execution": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["source"] == "rv"
    assert error["extensions"]["httpStatus"] == 404
    assert error["path"] == ["execution"]


async def test_unknown_source_is_bad_user_input_without_an_upstream_call(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    body = await graphql(gateway, '{ execution(id: "nowhere:exec_1") { id } }')
    assert body["data"] == {"execution": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED")
    assert "nowhere" in error["message"]
    assert sandbox.stats.total == 0


async def test_executions_answers_each_id_in_order_and_fails_each_on_its_own(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    ids = ["rv:exec_xyz789", "rv:exec_missing", "rv:../admin", "rv:exec_wait0001"]
    body = await graphql(
        gateway, "query ($ids: [ID!]!) { executions(ids: $ids) { id } }", {"ids": ids}
    )
    assert body["data"]["executions"] == [
        {"id": "rv:exec_xyz789"},
        None,
        None,
        {"id": "rv:exec_wait0001"},
    ]
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert codes == {("executions", 1): "NOT_FOUND", ("executions", 2): "BAD_USER_INPUT"}
    assert sandbox.stats.total == 3


async def test_node_resolves_executions_steps_and_approvals(gateway: httpx.AsyncClient) -> None:
    body = await graphql(
        gateway, '{ execution(id: "rv:exec_xyz789") { steps { id } approvals { id } } }'
    )
    step_id = body["data"]["execution"]["steps"][0]["id"]
    approval_id = body["data"]["execution"]["approvals"][0]["id"]
    query = """query ($a: ID!, $b: ID!, $c: ID!) {
      a: node(id: $a) { __typename id }
      b: node(id: $b) { __typename id ... on Step { nativeId } }
      c: node(id: $c) { __typename id ... on Approval { status } }
    }"""
    body = await graphql(gateway, query, {"a": "rv:exec_xyz789", "b": step_id, "c": approval_id})
    assert "errors" not in body
    assert body["data"]["a"] == {"__typename": "Execution", "id": "rv:exec_xyz789"}
    assert body["data"]["b"] == {"__typename": "Step", "id": step_id, "nativeId": "step_1"}
    assert body["data"]["c"] == {"__typename": "Approval", "id": approval_id, "status": "APPROVED"}


async def test_sources_lists_configured_sources(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, "{ sources { name kind capabilities health } }")
    assert {
        "name": "rv",
        "kind": "ROTAVISION",
        "capabilities": ["APPROVE", "GET", "LIST"],
        "health": "UP",
    } in body["data"]["sources"]


async def test_graphiql_is_served_to_browsers_and_healthz_answers(
    gateway: httpx.AsyncClient,
) -> None:
    page = await gateway.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    health = await gateway.get("/healthz")
    assert health.json() == {"status": "ok"}


async def test_introspection_is_on(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, "{ __schema { queryType { name } } }")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_malformed_query_is_refused_with_a_code(gateway: httpx.AsyncClient) -> None:
    for accept, status in (
        ("application/json", 200),  # the legacy media type: errors in a 200 body
        ("application/graphql-response+json", 400),  # GraphQL over HTTP: a document error is 400
    ):
        response = await gateway.post(
            "/graphql", json={"query": "{ execution(id: "}, headers={"accept": accept}
        )
        assert response.status_code == status, accept
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
