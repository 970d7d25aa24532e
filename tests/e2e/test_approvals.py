"""Approvals end to end: read, approve, reject, exactly once, with typed refusals."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from gateway.core import ids
from sandbox import nesting, rotavision, truthlocks, velt
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

APPROVE_POST = "POST /v1/orchestrate/executions/{execution_id}/approve"
VELT_DECIDE = "POST /v2/workflow/steps/recordReviewerDecision"

DECIDE = """mutation ($input: DecisionInput!) {
  %s(input: $input) {
    __typename
    ... on DecisionSuccess {
      alreadyRecorded
      approval { id status decidedBy notes message reviewers { id decision } approveCount }
      execution { id status steps { kind status } }
    }
    ... on DecisionError { code message }
    ... on ApprovalNotWaiting { currentApproval { status } }
    ... on UpstreamFailure { source httpStatus }
    ... on DecisionInputInvalid { field }
  }
}"""

APPROVALS = """query ($id: ID!) {
  execution(id: $id) { status approvals { id status reviewers { id mandatory decision } } }
}"""


async def decide(
    client: httpx.AsyncClient, verb: str, approval_id: str, notes: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    body = await graphql(
        client, DECIDE % verb, {"input": {"approvalId": approval_id, "notes": notes}}, **kwargs
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][verb]
    return result


async def pending_approval_id(client: httpx.AsyncClient, execution_id: str, **kwargs: Any) -> str:
    body = await graphql(client, APPROVALS, {"id": execution_id}, **kwargs)
    pending = [a for a in body["data"]["execution"]["approvals"] if a["status"] == "PENDING"]
    assert pending, body
    approval_id: str = pending[0]["id"]
    return approval_id


async def test_approve_a_rotavision_approval_and_see_the_execution_move_on(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    execution_id = f"rv:{rotavision.DEMO_WAITING_ID}"
    approval_id = await pending_approval_id(gateway, execution_id)
    result = await decide(gateway, "approve", approval_id, "looks right")
    assert result["__typename"] == "DecisionSuccess"
    assert result["approval"]["id"] == approval_id
    assert result["approval"]["status"] == "APPROVED"
    assert result["approval"]["notes"] == "looks right"
    assert result["approval"]["decidedBy"] == "ops@example.com"
    assert result["execution"]["status"] == "COMPLETED"
    assert sandbox.stats.calls[APPROVE_POST] == 1
    again = await graphql(gateway, APPROVALS, {"id": execution_id})
    assert again["data"]["execution"]["approvals"][0]["status"] == "APPROVED"


async def test_reject_then_deciding_again_is_not_waiting(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    execution_id = f"rv:{rotavision.DEMO_WAITING_ID}"
    waiting = sandbox.rotavision.executions[rotavision.DEMO_WAITING_ID]["waiting_for"]
    approval_id = await pending_approval_id(gateway, execution_id)
    rejected = await decide(gateway, "reject", approval_id, "no")
    assert rejected["__typename"] == "DecisionSuccess"
    assert rejected["approval"]["status"] == "REJECTED"
    # The run moves on to COMPLETED: the outcome is the approval's status, not the run's.
    assert rejected["execution"]["status"] == "COMPLETED"
    # What was asked stays shown beside the answer, though the decided payload drops it.
    assert rejected["approval"]["message"] == waiting["message"]
    assert rejected["approval"]["reviewers"] == [
        {"id": "lead@example.com", "decision": None},
        {"id": "ops@example.com", "decision": "REJECTED"},
    ]
    again = await decide(gateway, "approve", approval_id)
    assert again["__typename"] == "ApprovalNotWaiting"
    assert again["code"] == "CONFLICT"
    assert again["currentApproval"] == {"status": "REJECTED"}
    assert sandbox.stats.calls[APPROVE_POST] == 1


async def test_fifty_concurrent_identical_approves_send_one_post(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    approval_id = await pending_approval_id(gateway, f"rv:{rotavision.DEMO_WAITING_ID}")
    sandbox.faults.update({"latency_ms": 50})
    results = await asyncio.gather(
        *(decide(gateway, "approve", approval_id, "ok") for _ in range(50))
    )
    kinds = {r["__typename"] for r in results}
    assert kinds <= {"DecisionSuccess", "ApprovalNotWaiting"}, results
    assert "DecisionSuccess" in kinds
    assert sandbox.stats.calls[APPROVE_POST] == 1


async def test_upstream_503_during_a_decision_is_typed_and_leaves_it_pending(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    execution_id = f"rv:{rotavision.DEMO_WAITING_ID}"
    approval_id = await pending_approval_id(gateway, execution_id)
    sandbox.faults.update({"fail_rate": 1.0, "only": "/approve"})
    result = await decide(gateway, "approve", approval_id)
    assert result["__typename"] == "UpstreamFailure"
    assert result["code"] == "UPSTREAM_UNAVAILABLE"
    assert result["source"] == "rv"
    assert result["httpStatus"] == 503
    assert sandbox.stats.calls[APPROVE_POST] == 3  # sent, and resent twice (same key) after 5xx
    sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    body = await graphql(gateway, APPROVALS, {"id": execution_id})
    assert body["data"]["execution"]["status"] == "WAITING_FOR_APPROVAL"
    assert body["data"]["execution"]["approvals"][0]["status"] == "PENDING"


async def test_velt_two_reviewers_first_vote_keeps_pending_second_resolves(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    clients = [
        {
            "name": "lead",
            "key_env": "LEAD_KEY",
            "roles": ["viewer", "approver"],
            "reviewer_id": "lead@example.com",
        },
        {
            "name": "ops",
            "key_env": "OPS_KEY",
            "roles": ["viewer", "approver"],
            "reviewer_id": "ops@example.com",
        },
    ]
    keys = {"LEAD_KEY": "lead-secret", "OPS_KEY": "ops-secret"}
    auth = {"mode": "api_key", "clients": clients}
    async with gateway_client(sandbox_url, env=keys, auth=auth) as client:
        lead = {"headers": {"authorization": "Bearer lead-secret"}}
        ops = {"headers": {"authorization": "Bearer ops-secret"}}
        execution_id = f"velt:{velt.DEMO_WAITING_ID}"
        approval_id = await pending_approval_id(client, execution_id, **lead)
        first = await decide(client, "approve", approval_id, "fine by me", **lead)
        assert first["__typename"] == "DecisionSuccess"
        assert first["approval"]["status"] == "PENDING"
        # Velt documents only vote counts, and one of two mandatory approvals does not say whose.
        voted = {r["id"]: r["decision"] for r in first["approval"]["reviewers"]}
        assert voted == {"lead@example.com": None, "ops@example.com": None}
        # Other notes, so the gateway asks Velt again: the same reviewer's second vote is
        # "recorded: false, rejectionReason: idempotent" upstream. Any rejection would have
        # settled the step, so one still waiting holds lead's approval: the same decision.
        repeat = await decide(client, "approve", approval_id, "fine by me, again", **lead)
        assert repeat["__typename"] == "DecisionSuccess"
        assert repeat["alreadyRecorded"] is True
        assert repeat["approval"]["status"] == "PENDING"
        turned = await decide(client, "reject", approval_id, "changed my mind", **lead)
        assert turned["__typename"] == "ApprovalNotWaiting"
        assert turned["code"] == "CONFLICT"
        assert turned["message"] == (
            "this reviewer already recorded approve on this approval; the reject was not recorded"
        )
        second = await decide(client, "approve", approval_id, "ship it", **ops)
        assert second["__typename"] == "DecisionSuccess"
        assert second["approval"]["status"] == "APPROVED"
        assert second["execution"]["status"] != "WAITING_FOR_APPROVAL"
    assert sandbox.stats.calls[VELT_DECIDE] == 4


async def test_a_viewer_is_forbidden_to_decide(sandbox_url: str, sandbox: Sandbox) -> None:
    clients = [{"name": "ui", "key_env": "UI_KEY", "roles": ["viewer"]}]
    auth = {"mode": "api_key", "clients": clients}
    async with gateway_client(sandbox_url, env={"UI_KEY": "ui-secret"}, auth=auth) as client:
        headers = {"headers": {"authorization": "Bearer ui-secret"}}
        approval_id = await pending_approval_id(
            client, f"rv:{rotavision.DEMO_WAITING_ID}", **headers
        )
        result = await decide(client, "approve", approval_id, None, **headers)
    assert result["__typename"] == "DecisionForbidden"
    assert result["code"] == "FORBIDDEN"
    assert APPROVE_POST not in sandbox.stats.calls


@pytest.mark.parametrize(
    "source_and_id",
    [
        pytest.param(("zaia", nesting.DEMO_TREE_ID), id="nesting"),
        pytest.param(("tl", truthlocks.DEMO_COMPLETED_ID), id="truthlocks"),
    ],
)
async def test_sources_without_approvals_are_unsupported(
    gateway: httpx.AsyncClient, sandbox: Sandbox, source_and_id: tuple[str, str]
) -> None:
    result = await decide(gateway, "approve", ids.approval_id(*source_and_id, ""))
    assert result["__typename"] == "DecisionUnsupported"
    assert result["code"] == "UNSUPPORTED"
    assert sandbox.stats.total == 0


async def test_notes_over_the_limit_are_bad_user_input(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    approval_id = ids.approval_id("rv", rotavision.DEMO_WAITING_ID, "escalation")
    result = await decide(gateway, "approve", approval_id, "x" * 2001)
    assert result["__typename"] == "DecisionInputInvalid"
    assert result["code"] == "BAD_USER_INPUT"
    assert result["field"] == "notes"
    assert sandbox.stats.total == 0


async def test_unknown_and_malformed_approval_ids(gateway: httpx.AsyncClient) -> None:
    missing = await decide(
        gateway, "approve", ids.approval_id("rv", rotavision.DOC_EXAMPLE_ID, "nobody")
    )
    assert missing["__typename"] == "ApprovalNotFound"
    assert missing["code"] == "NOT_FOUND"
    malformed = await decide(gateway, "approve", "rv:exec_xyz789")
    assert malformed["__typename"] == "DecisionInputInvalid"
    garbage = await decide(gateway, "reject", "%%%")
    assert garbage["code"] == "BAD_USER_INPUT"


PENDING = """query ($first: Int!, $after: String, $sources: [String!]) {
  pendingApprovals(first: $first, after: $after, sources: $sources) {
    edges { cursor node { id status execution { id source { name } } } }
    pageInfo { hasNextPage endCursor }
    failedSources { source code }
  }
}"""


def expected_waiting(sandbox: Sandbox) -> set[str]:
    rv = {
        f"rv:{i}"
        for i, e in sandbox.rotavision.executions.items()
        if e["status"] == "waiting_approval"
    }
    vt = {
        f"velt:{i}"
        for i, e in sandbox.velt.executions.items()
        if e["status"] == "running"
        and any(
            s.get("nodeType") == "human" and s.get("status") == "waiting"
            for s in e.get("steps", [])
        )
    }
    return rv | vt


@pytest.mark.parametrize("page_size", [1, 4, 25])
async def test_pending_approvals_pages_through_every_waiting_approval_once(
    gateway: httpx.AsyncClient, sandbox: Sandbox, page_size: int
) -> None:
    seen: list[str] = []
    executions: set[str] = set()
    after = None
    for _ in range(500):
        body = await graphql(gateway, PENDING, {"first": page_size, "after": after})
        assert "errors" not in body, body
        connection = body["data"]["pendingApprovals"]
        assert connection["failedSources"] == []
        for edge in connection["edges"]:
            assert edge["node"]["status"] == "PENDING"
            seen.append(edge["node"]["id"])
            executions.add(edge["node"]["execution"]["id"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen))
    assert executions == expected_waiting(sandbox)


async def test_pending_approvals_filters_by_source_and_refuses_a_tampered_cursor(
    gateway: httpx.AsyncClient,
) -> None:
    body = await graphql(gateway, PENDING, {"first": 3, "sources": ["velt"]})
    connection = body["data"]["pendingApprovals"]
    assert {e["node"]["execution"]["source"]["name"] for e in connection["edges"]} == {"velt"}
    cursor = connection["pageInfo"]["endCursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    refused = await graphql(gateway, PENDING, {"first": 3, "after": tampered})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    foreign = await graphql(gateway, PENDING, {"first": 3, "after": cursor})
    assert foreign["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_source_that_refuses_our_credentials_is_an_error_not_just_a_missing_list(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """Clients rarely select failedSources: the refusal is in ``errors`` too, with its code."""
    wrong_key = {"SANDBOX_VELT_API_KEY": "ak_not_the_key"}
    async with gateway_client(
        sandbox_url, env=wrong_key, sources={"velt": {"retries": 0}}
    ) as client:
        body = await graphql(client, PENDING, {"first": 100})
    connection = body["data"]["pendingApprovals"]
    assert connection["failedSources"] == [{"source": "velt", "code": "UPSTREAM_AUTH"}]
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_AUTH"
    assert error["extensions"]["source"] == "velt"
    assert error["path"] == ["pendingApprovals"]
    shown = {e["node"]["execution"]["id"] for e in connection["edges"]}
    assert shown == {i for i in expected_waiting(sandbox) if i.startswith("rv:")}
    assert connection["pageInfo"]["hasNextPage"] is False
