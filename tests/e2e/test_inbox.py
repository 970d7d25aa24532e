"""The approvals inbox end to end (docs/approvals.md, "The inbox"): ``assignedToMe`` against the
sandbox's Velt and Rotavision reviewers, ``viewerCanDecide`` against what the decision mutation
then does (for every reason), ``decideMany`` with a mix, and four-eyes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from graphql import parse

from gateway.core import ids
from gateway.gate.cost import CostTable, Sources, estimate_cost
from gateway.schema import schema
from gateway.schema.mutation import DECISION_CALLS
from gateway.schema.speed import graphql_schema
from sandbox import rotavision
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

APPROVE_POST = "POST /v1/orchestrate/executions/{execution_id}/approve"
VELT_DECIDE = "POST /v2/workflow/steps/recordReviewerDecision"

CLIENTS = {
    # name: (roles, reviewer id)
    "ops": (["viewer", "approver", "operator"], "ops@example.com"),
    "lead": (["viewer", "approver"], "lead@example.com"),
    "brand": (["viewer", "approver"], "brand@example.com"),
    "finance": (["viewer", "approver"], "finance@example.com"),
    "watcher": (["viewer"], "ops@example.com"),
    "stranger": (["viewer", "approver"], "stranger@example.com"),
    "nobody": (["viewer", "approver"], None),
    "scoped": (["viewer", "approver"], "ops@example.com"),
}


def _key(name: str) -> str:
    return f"{name}-key-{'k' * 24}"


def _auth() -> tuple[dict[str, Any], dict[str, str]]:
    clients: list[dict[str, Any]] = []
    for name, (roles, reviewer) in CLIENTS.items():
        client: dict[str, Any] = {"name": name, "key_env": f"{name.upper()}_KEY", "roles": roles}
        if reviewer is not None:
            client["reviewer_id"] = reviewer
        if name == "scoped":
            client["scope"] = {"rv": ["wf_nothing_here"]}
        clients.append(client)
    env = {f"{name.upper()}_KEY": _key(name) for name in CLIENTS}
    return {"mode": "api_key", "clients": clients, "four_eyes": True}, env


def as_(name: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {_key(name)}"}}


@pytest.fixture
async def inbox(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    auth, env = _auth()
    async with gateway_client(
        sandbox_url, env=env, auth=auth, limits={"max_decisions": 10}
    ) as client:
        yield client


MINE = """query ($after: String) {
  pendingApprovals(assignedToMe: true, first: 100, after: $after) {
    edges { node { id reviewers { id decision } viewerCanDecide { allowed reason } } }
    pageInfo { hasNextPage endCursor }
    failedSources { source }
  }
}"""

CAN = """query ($id: ID!) {
  node(id: $id) { ... on Approval { status viewerCanDecide { allowed reason message } } }
}"""

DECIDE = """mutation ($input: DecisionInput!) {
  %s(input: $input) {
    __typename
    ... on DecisionSuccess { alreadyRecorded approval { status } }
    ... on DecisionForbidden { reason }
    ... on DecisionError { code message }
  }
}"""

DECIDE_MANY = """mutation ($decisions: [DecisionItemInput!]!) {
  decideMany(decisions: $decisions) {
    __typename
    ... on DecisionSuccess { alreadyRecorded approval { id status } }
    ... on DecisionForbidden { reason }
    ... on DecisionInputInvalid { field }
    ... on DecisionError { code message }
  }
}"""


Waiting = tuple[str, str, str | None]
"""(source, native execution id, Velt step id): one approval as the sandbox keeps it."""


def waiting_for(sandbox: Sandbox, reviewer: str) -> set[Waiting]:
    """The approvals the sandbox has waiting on ``reviewer``, who has not voted on them."""
    found: set[Waiting] = set()
    for native_id, run in sandbox.rotavision.executions.items():
        asked = run.get("waiting_for")
        if run.get("status") == "waiting_approval" and asked and reviewer in asked["assignees"]:
            found.add(("rv", native_id, None))
    for native_id, run in sandbox.velt.executions.items():
        for step in run["steps"]:
            review = step.get("_review")
            if step["status"] != "waiting" or review is None:
                continue
            declared = {user for user, _ in review["reviewers"]}
            if reviewer in declared and reviewer not in review["votes"]:
                found.add(("velt", native_id, step["stepId"]))
    return found


def as_waiting(approval_id: str) -> Waiting:
    ref = ids.parse_id(approval_id)
    assert isinstance(ref, ids.ApprovalRef)
    source = ref.execution.source
    return source, ref.execution.native_id, ref.key if source == "velt" else None


async def rv_approval(client: httpx.AsyncClient, native_id: str) -> str:
    """The id of the approval a Rotavision execution waits for (its key names the human agent)."""
    query = "query ($id: ID!) { execution(id: $id) { approvals { id status } } }"
    body = await graphql(client, query, {"id": f"rv:{native_id}"}, **as_("ops"))
    approvals = body["data"]["execution"]["approvals"]
    (approval_id,) = [a["id"] for a in approvals if a["status"] == "PENDING"]
    assert isinstance(approval_id, str)
    return approval_id


async def mine(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    body = await graphql(client, MINE, {}, **as_(name))
    assert "errors" not in body, body
    page = body["data"]["pendingApprovals"]
    assert page["failedSources"] == []
    assert page["pageInfo"]["hasNextPage"] is False
    return [edge["node"] for edge in page["edges"]]


def decide_calls(sandbox: Sandbox) -> int:
    return sandbox.stats.calls[APPROVE_POST] + sandbox.stats.calls[VELT_DECIDE]


async def can(client: httpx.AsyncClient, name: str, approval_id: str) -> dict[str, Any]:
    body = await graphql(client, CAN, {"id": approval_id}, **as_(name))
    assert "errors" not in body, body
    permission: dict[str, Any] = body["data"]["node"]["viewerCanDecide"]
    return permission


async def decide(
    client: httpx.AsyncClient, name: str, approval_id: str, verb: str = "approve"
) -> dict[str, Any]:
    body = await graphql(client, DECIDE % verb, {"input": {"approvalId": approval_id}}, **as_(name))
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][verb]
    return result


def velt_step(sandbox: Sandbox, reviewers: set[str]) -> str:
    """The id of a waiting Velt human step declaring exactly ``reviewers``, nobody voted."""
    for native_id, run in sandbox.velt.executions.items():
        for step in run["steps"]:
            review = step.get("_review")
            if step["status"] != "waiting" or review is None or review["votes"]:
                continue
            if {user for user, _ in review["reviewers"]} == reviewers:
                return ids.approval_id("velt", native_id, step["stepId"])
    raise AssertionError(f"no waiting Velt step for {reviewers}")


# --- assignedToMe ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ops", "finance", "brand"])
async def test_assigned_to_me_is_what_waits_on_the_reviewer_in_velt_and_rotavision(
    inbox: httpx.AsyncClient, sandbox: Sandbox, name: str
) -> None:
    reviewer = CLIENTS[name][1]
    assert reviewer is not None
    expected = waiting_for(sandbox, reviewer)
    assert expected  # the sandbox has some for each
    nodes = await mine(inbox, name)
    assert {as_waiting(n["id"]) for n in nodes} == expected
    assert len(nodes) == len(expected)  # each once
    for node in nodes:
        assert {"id": reviewer, "decision": None} in node["reviewers"]
        assert node["viewerCanDecide"] == {"allowed": True, "reason": None}
    sources = {as_waiting(n["id"])[0] for n in nodes}
    assert sources == ({"rv", "velt"} if name == "ops" else {"velt"})


async def test_a_decided_approval_leaves_the_inbox_of_who_decided_it(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    before = {n["id"] for n in await mine(inbox, "finance")}
    decided = sorted(before)[0]
    assert (await decide(inbox, "finance", decided))["__typename"] == "DecisionSuccess"
    after = {n["id"] for n in await mine(inbox, "finance")}
    assert after == before - {decided}


async def test_assigned_to_me_pages_with_a_cursor_of_its_own(inbox: httpx.AsyncClient) -> None:
    query = MINE.replace("first: 100", "first: 2")
    seen: list[str] = []
    after: str | None = None
    for _ in range(50):
        body = await graphql(inbox, query, {"after": after}, **as_("ops"))
        page = body["data"]["pendingApprovals"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [n["id"] for n in await mine(inbox, "ops")]
    # The cursor is signed for this reviewer's walk: another's, or the full list, refuses it.
    assert after is not None
    other = await graphql(inbox, query, {"after": after}, **as_("lead"))
    assert other["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    everything = "query ($after: String) { pendingApprovals(after: $after) { edges { cursor } } }"
    full = await graphql(inbox, everything, {"after": after}, **as_("ops"))
    assert full["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_assigned_to_me_needs_a_reviewer_id(inbox: httpx.AsyncClient) -> None:
    body = await graphql(inbox, MINE, {}, **as_("nobody"))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "reviewer_id" in error["message"]


# --- viewerCanDecide equals what the mutation then does ------------------------------------------


async def test_allowed_means_the_mutation_decides_upstream(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    approval_id = await rv_approval(inbox, rotavision.DEMO_WAITING_ID)
    assert await can(inbox, "lead", approval_id) == {
        "allowed": True,
        "reason": None,
        "message": None,
    }
    calls = decide_calls(sandbox)
    result = await decide(inbox, "lead", approval_id)
    assert result["__typename"] == "DecisionSuccess"
    assert result["alreadyRecorded"] is False
    assert decide_calls(sandbox) == calls + 1


@pytest.mark.parametrize(
    ("name", "approval", "reason"),
    [
        ("watcher", "rv-waiting", "LACKS_ROLE"),
        ("stranger", "rv-waiting", "NOT_A_REVIEWER"),
        ("nobody", "rv-waiting", "NOT_A_REVIEWER"),
        ("finance", "velt-pair", "NOT_A_REVIEWER"),
    ],
)
async def test_a_refusing_rule_is_the_mutations_forbidden_reason_without_a_call(
    inbox: httpx.AsyncClient, sandbox: Sandbox, name: str, approval: str, reason: str
) -> None:
    if approval == "rv-waiting":
        approval_id = await rv_approval(inbox, rotavision.DEMO_WAITING_ID)
    else:
        approval_id = velt_step(sandbox, {"lead@example.com", "ops@example.com"})
    permission = await can(inbox, name, approval_id)
    assert (permission["allowed"], permission["reason"]) == (False, reason)
    calls = decide_calls(sandbox)
    for verb in ("approve", "reject"):
        result = await decide(inbox, name, approval_id, verb)
        assert result["__typename"] == "DecisionForbidden"
        assert (result["code"], result["reason"]) == ("FORBIDDEN", reason)
    assert decide_calls(sandbox) == calls


async def test_not_waiting_is_the_mutations_conflict_without_a_call(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    approval_id = await rv_approval(inbox, rotavision.DEMO_WAITING_ID)
    assert (await decide(inbox, "ops", approval_id))["__typename"] == "DecisionSuccess"
    for name in ("ops", "lead"):
        permission = await can(inbox, name, approval_id)
        assert (permission["allowed"], permission["reason"]) == (False, "NOT_WAITING")
    calls = decide_calls(sandbox)
    result = await decide(inbox, "lead", approval_id, "reject")
    assert (result["__typename"], result["code"]) == ("ApprovalNotWaiting", "CONFLICT")
    assert decide_calls(sandbox) == calls


async def test_already_voted_records_nothing_new(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """Velt: the optional reviewer's vote is pinned down by the step's counts while the step
    still waits for a mandatory one; their repeat is answered from the record, their change of
    mind is refused, and neither reaches the upstream."""
    approval_id = next(
        ids.approval_id("velt", native_id, step["stepId"])
        for native_id, run in sandbox.velt.executions.items()
        for step in run["steps"]
        if step["status"] == "waiting"
        and step.get("_review")
        and ["brand@example.com", False] in step["_review"]["reviewers"]
    )
    assert (await can(inbox, "brand", approval_id))["allowed"] is True
    first = await decide(inbox, "brand", approval_id)
    assert first["__typename"] == "DecisionSuccess"
    assert first["approval"]["status"] == "PENDING"  # ops, mandatory, has not voted
    permission = await can(inbox, "brand", approval_id)
    assert (permission["allowed"], permission["reason"]) == (False, "ALREADY_VOTED")
    assert approval_id not in {n["id"] for n in await mine(inbox, "brand")}
    calls = decide_calls(sandbox)
    again = await decide(inbox, "brand", approval_id)
    assert (again["__typename"], again["alreadyRecorded"]) == ("DecisionSuccess", True)
    other = await decide(inbox, "brand", approval_id, "reject")
    assert (other["__typename"], other["code"]) == ("ApprovalNotWaiting", "CONFLICT")
    assert decide_calls(sandbox) == calls
    # The mandatory reviewer may still decide.
    assert (await can(inbox, "ops", approval_id))["allowed"] is True


async def test_out_of_scope_is_not_found_for_the_mutation_and_absent_for_a_read(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    approval_id = await rv_approval(inbox, rotavision.DEMO_WAITING_ID)
    body = await graphql(inbox, CAN, {"id": approval_id}, **as_("scoped"))
    assert body["data"]["node"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    calls = decide_calls(sandbox)
    result = await decide(inbox, "scoped", approval_id)
    assert (result["__typename"], result["code"]) == ("ApprovalNotFound", "NOT_FOUND")
    assert decide_calls(sandbox) == calls


# --- four-eyes ---------------------------------------------------------------------------------

START = """mutation ($key: String!) {
  startExecution(input: {source: "velt", workflowId: "contract-review", idempotencyKey: $key}) {
    __typename ... on RunControlSuccess { executionId execution { approvals { id status } } }
  }
}"""


async def test_four_eyes_the_starter_may_not_decide_another_reviewer_may(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    started = await graphql(inbox, START, {"key": "four-eyes-1"}, **as_("ops"))
    run = started["data"]["startExecution"]
    assert run["__typename"] == "RunControlSuccess", started
    (approval,) = run["execution"]["approvals"]
    permission = await can(inbox, "ops", approval["id"])
    assert (permission["allowed"], permission["reason"]) == (False, "FOUR_EYES")
    calls = decide_calls(sandbox)
    refused = await decide(inbox, "ops", approval["id"])
    assert (refused["__typename"], refused["reason"]) == ("DecisionForbidden", "FOUR_EYES")
    assert decide_calls(sandbox) == calls
    # The run is in the starter's assignedToMe list, not decidable there; the other reviewer's is.
    assert {"allowed": False, "reason": "FOUR_EYES"} in [
        n["viewerCanDecide"] for n in await mine(inbox, "ops") if n["id"] == approval["id"]
    ]
    assert (await can(inbox, "lead", approval["id"]))["allowed"] is True
    decided = await decide(inbox, "lead", approval["id"])
    assert decided["__typename"] == "DecisionSuccess"
    assert decide_calls(sandbox) == calls + 1


async def test_without_four_eyes_the_starter_may_decide(sandbox_url: str, sandbox: Sandbox) -> None:
    auth, env = _auth()
    async with gateway_client(sandbox_url, env=env, auth={**auth, "four_eyes": False}) as client:
        started = await graphql(client, START, {"key": "four-eyes-2"}, **as_("ops"))
        (approval,) = started["data"]["startExecution"]["execution"]["approvals"]
        assert (await can(client, "ops", approval["id"]))["allowed"] is True
        assert (await decide(client, "ops", approval["id"]))["__typename"] == "DecisionSuccess"


# --- decideMany --------------------------------------------------------------------------------


async def test_decide_many_answers_each_item_on_its_own(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    decided_before = await rv_approval(inbox, "exec_d9585d4a")
    assert (await decide(inbox, "ops", decided_before))["__typename"] == "DecisionSuccess"
    decidable = await rv_approval(inbox, "exec_af80bc0f")
    pair = velt_step(sandbox, {"lead@example.com", "ops@example.com"})
    finance_only = velt_step(sandbox, {"finance@example.com"})
    approve_posts, velt_votes = sandbox.stats.calls[APPROVE_POST], sandbox.stats.calls[VELT_DECIDE]
    items = [
        {"approvalId": decidable, "decision": "APPROVE", "notes": "ok"},
        {"approvalId": decided_before, "decision": "APPROVE"},
        {"approvalId": finance_only, "decision": "APPROVE"},
        {"approvalId": "not-an-id", "decision": "REJECT"},
        {"approvalId": pair, "decision": "REJECT", "notes": "no"},
        {"approvalId": decidable, "decision": "APPROVE"},
    ]
    body = await graphql(inbox, DECIDE_MANY, {"decisions": items}, **as_("ops"))
    assert "errors" not in body, body
    results = body["data"]["decideMany"]
    assert [r["__typename"] for r in results] == [
        "DecisionSuccess",
        "ApprovalNotWaiting",
        "DecisionForbidden",
        "DecisionInputInvalid",
        "DecisionSuccess",
        "DecisionInputInvalid",
    ]
    assert results[0]["approval"] == {"id": decidable, "status": "APPROVED"}
    assert results[2]["reason"] == "NOT_A_REVIEWER"
    assert results[4]["approval"] == {"id": pair, "status": "REJECTED"}
    assert results[5]["field"] == "approvalId"
    # Exactly once each: one approve POST, one Velt vote, nothing for the refused ones.
    assert sandbox.stats.calls[APPROVE_POST] == approve_posts + 1
    assert sandbox.stats.calls[VELT_DECIDE] == velt_votes + 1
    # A repeat of the whole call decides nothing again.
    again = await graphql(inbox, DECIDE_MANY, {"decisions": items[:1]}, **as_("ops"))
    assert again["data"]["decideMany"][0]["__typename"] == "ApprovalNotWaiting"
    assert sandbox.stats.calls[APPROVE_POST] == approve_posts + 1


async def test_decide_many_is_bounded_and_never_empty(
    inbox: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    item = {
        "approvalId": ids.approval_id("rv", rotavision.DEMO_WAITING_ID, ""),
        "decision": "APPROVE",
    }
    over = await graphql(inbox, DECIDE_MANY, {"decisions": [item] * 11}, **as_("ops"))
    (error,) = over["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["limit"] == "max_decisions"
    empty = await graphql(inbox, DECIDE_MANY, {"decisions": []}, **as_("ops"))
    assert empty["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert decide_calls(sandbox) == 0


def test_decide_many_costs_a_decision_per_item() -> None:
    own = CostTable.of(graphql_schema(schema)).field("Mutation", "decideMany")
    assert own.own_calls(Sources(), 7) == 7 * DECISION_CALLS
    document = parse(
        "mutation ($d: [DecisionItemInput!]!) { decideMany(decisions: $d) { __typename } }"
    )
    items = [{"approvalId": "x", "decision": "APPROVE"}] * 4
    estimate = estimate_cost(graphql_schema(schema), document, None, {"d": items})
    assert estimate.calls == 4 * DECISION_CALLS
    selected = parse(
        'mutation { decideMany(decisions: [{approvalId: "a", decision: APPROVE}, '
        '{approvalId: "b", decision: REJECT}]) { ... on DecisionSuccess { execution { id } } } }'
    )
    # Each item's re-read execution counts once per item, as approve's does.
    assert estimate_cost(graphql_schema(schema), selected, None, {}).calls == 2 * (
        DECISION_CALLS + 1
    )
