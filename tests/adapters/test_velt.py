"""Velt-style adapter: the pure parser on documented and edge payloads, the client over respx."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from adapters.base import Credentials, Decision, DecisionOutcome
from adapters.engine import HTTPSettings
from adapters.errors import (
    ExecutionNotFound,
    PayloadError,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamForbidden,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import (
    ApprovalStatus,
    ErrorInfo,
    ExecutionStatus,
    Reviewer,
    StepKind,
    StepStatus,
    Workflow,
)
from adapters.velt import VeltAdapter, parse_execution, parse_execution_page

SHARED = Path(__file__).resolve().parents[3] / "shared" / "upstreams" / "velt.txt"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "velt"
DOC_ID = "exec_1777374504255_xzy43k9q"


def doc_example() -> dict[str, Any]:
    """The ``executions/get`` success example from the vendor's page, envelope included."""
    data: dict[str, Any] = json.loads((FIXTURES / "get_execution_doc_example.json").read_text())
    return data


def view(**fields: Any) -> dict[str, Any]:
    """A bare ExecutionView with every documented field; ``fields`` override."""
    base: dict[str, Any] = {
        "executionId": "exec_1",
        "status": "running",
        "startedAt": 1_777_000_000_000,
        "completedAt": None,
        "cancelledAt": None,
        "definitionId": "def-1",
        "definitionVersion": 3,
        "correlationId": None,
        "idempotencyKey": None,
        "failureReason": None,
        "steps": [],
    }
    return {**base, **fields}


def step(**fields: Any) -> dict[str, Any]:
    """A StepView; ``fields`` override."""
    base: dict[str, Any] = {
        "stepId": "step_agent-a_1777000000000_abcdefgh",
        "nodeId": "agent-a",
        "nodeType": "agent",
        "status": "completed",
        "groupId": None,
        "startedAt": 1_777_000_001_000,
        "completedAt": 1_777_000_002_500,
        "output": {},
        "error": None,
    }
    return {**base, **fields}


def human(status: str, output: dict[str, Any], **fields: Any) -> dict[str, Any]:
    completed = 1_777_000_090_000 if status in ("completed", "breached", "cancelled") else None
    return step(
        stepId="step_h",
        nodeId="human-review",
        nodeType="human",
        status=status,
        completedAt=completed,
        output=output,
        **fields,
    )


# --- the vendor's example -------------------------------------------------------------------


def test_fixture_is_the_vendor_example() -> None:
    if not SHARED.exists():
        pytest.skip("the vendors' documents (shared/) are not next to this checkout")
    text = SHARED.read_text()
    examples = []
    start = text.find('{\n  "result"')
    while start != -1:
        example, end = json.JSONDecoder().raw_decode(text, start)
        examples.append(example)
        start = text.find('{\n  "result"', end)
    with_steps = [e for e in examples if e["result"]["steps"]]
    assert with_steps == [doc_example()]


def test_doc_example_parses_to_the_unified_model() -> None:
    execution = parse_execution(doc_example())
    assert execution.native_id == DOC_ID
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.upstream_status == "completed"
    assert execution.workflow == Workflow(id="marketing-copy-approval", version="1")
    assert execution.started_at == datetime(2026, 4, 28, 11, 8, 24, 364000, tzinfo=UTC)
    assert execution.completed_at == datetime(2026, 4, 28, 11, 14, 2, 347000, tzinfo=UTC)
    assert execution.duration_ms == 337983
    assert execution.correlation_id == "corr_campaign_42"
    assert execution.idempotency_key == "campaign-42-dispatch"
    assert execution.error is None
    assert execution.cost is None
    assert execution.approvals == ()
    assert execution.raw == doc_example()["result"]
    (publish,) = execution.steps
    assert publish.native_id == "group_parallel-review__to__agent-publish"
    assert publish.name == "agent-publish"
    assert publish.kind is StepKind.AGENT
    assert publish.upstream_kind == "agent"
    assert publish.status is StepStatus.COMPLETED
    assert publish.agent_id == "publish-agent-v1"
    assert publish.duration_ms == 230
    assert publish.group_id is None
    assert publish.output == doc_example()["result"]["steps"][0]["output"]


def test_bare_view_parses_like_the_result_envelope() -> None:
    assert parse_execution(doc_example()["result"]) == parse_execution(doc_example())


# --- statuses and kinds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "status"),
    [
        pytest.param("pending", ExecutionStatus.PENDING, id="pending"),
        pytest.param("running", ExecutionStatus.RUNNING, id="running"),
        pytest.param("completed", ExecutionStatus.COMPLETED, id="completed"),
        pytest.param("failed", ExecutionStatus.FAILED, id="failed"),
        pytest.param("cancelled", ExecutionStatus.CANCELLED, id="cancelled"),
        pytest.param("Canceled", ExecutionStatus.CANCELLED, id="us-spelling"),
        pytest.param("paused", ExecutionStatus.UNKNOWN, id="unknown-word"),
        pytest.param(None, ExecutionStatus.UNKNOWN, id="missing"),
    ],
)
def test_execution_status_words_map(word: str | None, status: ExecutionStatus) -> None:
    execution = parse_execution(view(status=word))
    assert execution.status is status
    assert execution.upstream_status == word


@pytest.mark.parametrize(
    ("run_status", "steps", "expected"),
    [
        pytest.param(
            "running",
            [step(), human("waiting", {})],
            ExecutionStatus.WAITING_FOR_APPROVAL,
            id="human-waiting",
        ),
        pytest.param(
            "running", [step(status="waiting")], ExecutionStatus.RUNNING, id="agent-waiting"
        ),
        pytest.param(
            "running",
            [step(nodeType="webhook", status="waiting")],
            ExecutionStatus.RUNNING,
            id="webhook-waiting",
        ),
        pytest.param(
            "running",
            [human("completed", {"decision": "approve"})],
            ExecutionStatus.RUNNING,
            id="human-done",
        ),
        pytest.param(
            "pending", [human("waiting", {})], ExecutionStatus.PENDING, id="only-running-derives"
        ),
    ],
)
def test_waiting_for_approval_is_derived_from_a_waiting_human_step(
    run_status: str, steps: list[dict[str, Any]], expected: ExecutionStatus
) -> None:
    execution = parse_execution(view(status=run_status, steps=steps))
    assert execution.status is expected
    assert execution.upstream_status == run_status


@pytest.mark.parametrize(
    ("node_type", "word", "status"),
    [
        pytest.param("agent", "pending", StepStatus.PENDING, id="pending"),
        pytest.param("agent", "running", StepStatus.RUNNING, id="running"),
        pytest.param("human", "waiting", StepStatus.WAITING_FOR_APPROVAL, id="human-waiting"),
        pytest.param("agent", "waiting", StepStatus.RUNNING, id="agent-waiting"),
        pytest.param("webhook", "waiting", StepStatus.RUNNING, id="webhook-waiting"),
        pytest.param("mystery", "waiting", StepStatus.RUNNING, id="other-waiting"),
        pytest.param("agent", "completed", StepStatus.COMPLETED, id="completed"),
        pytest.param("agent", "failed", StepStatus.FAILED, id="failed"),
        pytest.param("agent", "skipped", StepStatus.SKIPPED, id="skipped"),
        pytest.param("human", "cancelled", StepStatus.CANCELLED, id="cancelled"),
        pytest.param("human", "breached", StepStatus.TIMED_OUT, id="breached"),
        pytest.param("agent", "paused", StepStatus.UNKNOWN, id="unknown-word"),
        pytest.param("agent", None, StepStatus.UNKNOWN, id="missing"),
    ],
)
def test_step_status_words_map(node_type: str, word: str | None, status: StepStatus) -> None:
    (parsed,) = parse_execution(view(steps=[step(nodeType=node_type, status=word)])).steps
    assert parsed.status is status
    assert parsed.upstream_status == word


@pytest.mark.parametrize(
    ("node_type", "kind"),
    [
        pytest.param("agent", StepKind.AGENT, id="agent"),
        pytest.param("human", StepKind.HUMAN_APPROVAL, id="human"),
        pytest.param("notification", StepKind.NOTIFICATION, id="notification"),
        pytest.param("webhook", StepKind.WEBHOOK, id="webhook"),
        pytest.param("delay", StepKind.UNKNOWN, id="unknown-word"),
        pytest.param(None, StepKind.UNKNOWN, id="missing"),
    ],
)
def test_node_types_map_to_step_kinds(node_type: str | None, kind: StepKind) -> None:
    (parsed,) = parse_execution(view(steps=[step(nodeType=node_type)])).steps
    assert parsed.kind is kind
    assert parsed.upstream_kind == node_type


def test_step_fields_are_kept() -> None:
    failed = step(
        stepId="step_a__to__webhook-b",
        nodeId="webhook-b",
        nodeType="webhook",
        status="failed",
        groupId="parallel-review",
        output={"httpStatus": 502},
        error={"code": "WEBHOOK_HTTP_ERROR", "message": "callee answered 502"},
    )
    (parsed,) = parse_execution(view(status="failed", steps=[failed])).steps
    assert parsed.native_id == "step_a__to__webhook-b"
    assert parsed.index == 0
    assert parsed.name == "webhook-b"
    assert parsed.group_id == "parallel-review"
    assert parsed.output == {"httpStatus": 502}
    assert parsed.error == ErrorInfo(code="WEBHOOK_HTTP_ERROR", message="callee answered 502")
    assert parsed.started_at == datetime(2026, 4, 24, 3, 6, 41, tzinfo=UTC)
    assert parsed.duration_ms == 1500
    assert parsed.agent_id is None


def test_failure_reason_becomes_the_execution_error() -> None:
    reason = {"code": "SLA_BREACHED", "message": "step human-review breached"}
    execution = parse_execution(
        view(status="failed", completedAt=1_777_000_060_000, failureReason=reason)
    )
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == ErrorInfo(code="SLA_BREACHED", message="step human-review breached")
    assert execution.duration_ms == 60_000


def test_cancelled_at_ends_a_cancelled_execution() -> None:
    execution = parse_execution(view(status="cancelled", cancelledAt=1_777_000_005_000))
    assert execution.status is ExecutionStatus.CANCELLED
    assert execution.completed_at == datetime(2026, 4, 24, 3, 6, 45, tzinfo=UTC)
    assert execution.duration_ms == 5000


# --- approvals ------------------------------------------------------------------------------


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_waiting_human_step_is_a_pending_approval_with_counts_so_far() -> None:
    output = {
        "reviewers": [
            {"userId": "lead@example.com", "mandatory": True},
            {"userId": "ops@example.com", "mandatory": True},
            {"userId": "brand@example.com", "mandatory": False},
        ],
        "approveCount": 1,
        "rejectCount": 0,
        "mandatoryCount": 2,
        "mandatoryApproveCount": 1,
    }
    execution = parse_execution(view(steps=[step(), human("waiting", output)]))
    assert execution.status is ExecutionStatus.WAITING_FOR_APPROVAL
    (approval,) = execution.approvals
    assert approval.key == "step_h"
    assert approval.step_native_id == "step_h"
    assert approval.status is ApprovalStatus.PENDING
    # One of two mandatory reviewers approved: the aggregates do not say which.
    assert approval.reviewers == (
        Reviewer(id="lead@example.com", mandatory=True),
        Reviewer(id="ops@example.com", mandatory=True),
        Reviewer(id="brand@example.com", mandatory=False),
    )
    assert (approval.approve_count, approval.reject_count, approval.required_count) == (1, 0, 2)
    assert approval.message is None
    assert approval.requested_at == datetime(2026, 4, 24, 3, 6, 41, tzinfo=UTC)
    assert (approval.decided_at, approval.decided_by, approval.notes) == (None, None, None)


def test_counts_that_pin_votes_down_fill_reviewer_decisions() -> None:
    output = {
        "reviewers": [
            {"userId": "lead@example.com", "mandatory": True},
            {"userId": "ops@example.com", "mandatory": False},
        ],
        "approveCount": 1,
        "mandatoryApproveCount": 1,
    }
    (approval,) = parse_execution(view(steps=[human("waiting", output)])).approvals
    assert approval.status is ApprovalStatus.PENDING
    assert [r.decision for r in approval.reviewers] == [ApprovalStatus.APPROVED, None]


def test_documented_resolved_output_is_approved_by_every_mandatory_reviewer() -> None:
    resolved = fixture("human_step_resolved.json")
    execution = parse_execution(view(status="completed", steps=[resolved]))
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.APPROVED
    assert [(r.id, r.mandatory, r.decision) for r in approval.reviewers] == [
        ("lead@example.com", True, ApprovalStatus.APPROVED),
        ("ops@example.com", True, ApprovalStatus.APPROVED),
        ("brand@example.com", False, None),
    ]
    assert approval.decided_by is None  # two approvers: the output does not say who settled it
    assert approval.notes == "Ship it"
    assert approval.decided_at == datetime(2026, 4, 28, 11, 13, 10, 112000, tzinfo=UTC)
    assert (approval.approve_count, approval.reject_count, approval.required_count) == (2, 0, 2)


def test_documented_rejected_output_names_the_rejector() -> None:
    rejected = fixture("human_step_rejected.json")
    execution = parse_execution(view(status="completed", steps=[rejected]))
    assert execution.steps[0].status is StepStatus.COMPLETED
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.decided_by == "ops@example.com"
    assert approval.notes == "Off brand"
    # ops rejected; one mandatory approval is left for the one other mandatory reviewer.
    assert [r.decision for r in approval.reviewers] == [
        ApprovalStatus.APPROVED,
        ApprovalStatus.REJECTED,
    ]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            {"aggregatorStatus": "resolved", "decision": "approve", "approved": True},
            ApprovalStatus.APPROVED,
            id="resolved",
        ),
        pytest.param(
            {"aggregatorStatus": "rejected", "decision": "reject", "rejectedBy": "a@example.com"},
            ApprovalStatus.REJECTED,
            id="rejected",
        ),
        pytest.param({"aggregatorStatus": "approved"}, ApprovalStatus.APPROVED, id="approved-word"),
        pytest.param({"decision": "reject"}, ApprovalStatus.REJECTED, id="decision-only"),
    ],
)
def test_a_settled_step_that_still_reads_waiting_is_decided(
    output: dict[str, Any], expected: ApprovalStatus
) -> None:
    output = {"reviewerIds": ["a@example.com"], **output}
    execution = parse_execution(view(steps=[step(), human("waiting", output)]))
    assert execution.status is ExecutionStatus.RUNNING
    assert execution.steps[1].status is StepStatus.RUNNING
    assert execution.steps[1].upstream_status == "waiting"
    (approval,) = execution.approvals
    assert approval.status is expected


def test_a_pending_aggregator_still_waits() -> None:
    output = {"reviewerIds": ["a@example.com"], "aggregatorStatus": "pending"}
    execution = parse_execution(view(steps=[human("waiting", output)]))
    assert execution.status is ExecutionStatus.WAITING_FOR_APPROVAL
    assert execution.approvals[0].status is ApprovalStatus.PENDING


@pytest.mark.parametrize(
    "output",
    [
        pytest.param({"decision": "reject", "rejectedBy": "ops@example.com"}, id="decision"),
        pytest.param({"approved": False, "rejectedBy": "ops@example.com"}, id="approved-false"),
        pytest.param(
            {"aggregatorStatus": "rejected", "rejectedBy": "ops@example.com"},
            id="aggregator-rejected",
        ),
    ],
)
def test_rejected_human_step_is_a_completed_step_with_a_rejected_approval(
    output: dict[str, Any],
) -> None:
    output = {**output, "commentBody": "Off brand"}
    execution = parse_execution(view(status="completed", steps=[human("completed", output)]))
    assert execution.status is ExecutionStatus.COMPLETED
    (parsed,) = execution.steps
    assert parsed.status is StepStatus.COMPLETED
    assert parsed.error is None
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.decided_by == "ops@example.com"
    assert approval.notes == "Off brand"


def test_undocumented_vote_fields_are_not_read() -> None:
    """Per-reviewer votes, ``message``, ``reason``: fields only our old sandbox invented."""
    output = {
        "message": "Approve the copy?",
        "reviewers": [{"userId": "a@example.com", "mandatory": True, "decision": "approve"}],
        "votes": [{"reviewerId": "a@example.com", "decision": "approve"}],
        "reason": "fine",
    }
    (approval,) = parse_execution(view(steps=[human("waiting", output)])).approvals
    assert approval.reviewers == (Reviewer(id="a@example.com", mandatory=True),)
    assert (approval.message, approval.notes) == (None, None)


def test_decided_at_falls_back_to_resumed_at() -> None:
    decided = human("completed", {"decision": "approve", "resumedAt": 1_777_000_070_000})
    decided["completedAt"] = None
    (approval,) = parse_execution(view(steps=[decided])).approvals
    assert approval.decided_at == datetime(2026, 4, 24, 3, 7, 50, tzinfo=UTC)


def test_legacy_reviewer_ids_are_all_mandatory() -> None:
    output = {"reviewerIds": ["a@example.com", "b@example.com"]}
    (approval,) = parse_execution(view(steps=[human("waiting", output)])).approvals
    assert approval.reviewers == (
        Reviewer(id="a@example.com", mandatory=True),
        Reviewer(id="b@example.com", mandatory=True),
    )
    assert (approval.approve_count, approval.reject_count, approval.required_count) == (0, 0, 2)


@pytest.mark.parametrize("word", ["pending", "running", "skipped", "cancelled"])
def test_human_steps_nobody_decided_have_no_approval(word: str) -> None:
    execution = parse_execution(view(steps=[human(word, {"reviewerIds": ["a@example.com"]})]))
    assert execution.steps[0].kind is StepKind.HUMAN_APPROVAL
    assert execution.approvals == ()


# --- tolerance ------------------------------------------------------------------------------


def test_missing_optional_fields_are_none() -> None:
    execution = parse_execution({"executionId": "exec_min"})
    assert execution.native_id == "exec_min"
    assert execution.status is ExecutionStatus.UNKNOWN
    assert execution.upstream_status is None
    assert execution.workflow is None
    assert execution.steps == ()
    assert execution.approvals == ()
    assert (execution.started_at, execution.completed_at, execution.duration_ms) == (None,) * 3
    assert execution.error is None
    assert (execution.correlation_id, execution.idempotency_key) == (None, None)


def test_extra_fields_and_wrong_types_are_tolerated() -> None:
    payload = view(
        brandNewField={"nested": [1, 2]},
        startedAt="1777000000000",
        completedAt="yesterday",
        failureReason="disk full",
        steps=[
            "not an object",
            {"nodeType": "human", "status": "waiting", "output": ["not", "an", "object"]},
            step(status=7, extra=True, startedAt={"ms": 1}),
        ],
    )
    execution = parse_execution(payload)
    assert execution.started_at == datetime(2026, 4, 24, 3, 6, 40, tzinfo=UTC)
    assert execution.completed_at is None
    assert execution.error == ErrorInfo(code=None, message="disk full")
    first, second = execution.steps
    assert first.native_id == "step#0"
    assert first.status is StepStatus.WAITING_FOR_APPROVAL
    assert second.status is StepStatus.UNKNOWN
    assert second.upstream_status == "7"
    assert second.started_at is None
    (approval,) = execution.approvals
    assert approval.reviewers == ()
    assert approval.required_count is None


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="array"),
        pytest.param(None, id="null"),
        pytest.param({"status": "running"}, id="no-id"),
        pytest.param({"result": {"status": "running"}}, id="envelope-without-id"),
        pytest.param({"result": None}, id="null-result"),
    ],
)
def test_payload_without_an_execution_is_refused(payload: Any) -> None:
    with pytest.raises(PayloadError):
        parse_execution(payload)


def test_list_reply_becomes_an_incomplete_page() -> None:
    items = [view(executionId="exec_2", status="running"), view(executionId="exec_1")]
    page = parse_execution_page({"result": {"items": items, "nextCursor": 1_777_000_000_000}})
    assert [e.native_id for e in page.items] == ["exec_2", "exec_1"]
    assert all(e.steps == () for e in page.items)
    assert page.next_cursor == "1777000000000"
    assert page.complete is False
    last = parse_execution_page({"result": {"items": [], "nextCursor": None}})
    assert (last.items, last.next_cursor) == ((), None)


def test_list_reply_without_items_is_refused() -> None:
    with pytest.raises(PayloadError):
        parse_execution_page({"result": {"nextCursor": None}})


# --- client, over respx ---------------------------------------------------------------------

BASE = "https://velt.test"
GET = "/v2/workflow/executions/get"
LIST = "/v2/workflow/executions/list"
DECIDE = "/v2/workflow/steps/recordReviewerDecision"


def make_adapter(router: respx.Router) -> VeltAdapter:
    adapter = VeltAdapter.create(
        name="velt",
        base_url=BASE,
        credentials=Credentials(api_key="k_secret", auth_token="t_secret"),
        settings=HTTPSettings(timeout_s=1.0),
        transport=httpx.MockTransport(router.async_handler),
    )
    assert isinstance(adapter, VeltAdapter)
    return adapter


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


async def test_get_sends_both_credentials_and_the_id_in_the_body() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(GET).respond(200, json=doc_example())
    adapter = make_adapter(router)
    execution = await adapter.get_execution(DOC_ID)
    await adapter.aclose()
    assert execution.native_id == DOC_ID
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["x-velt-api-key"] == "k_secret"
    assert request.headers["x-velt-auth-token"] == "t_secret"
    assert request.headers["content-type"] == "application/json"
    assert sent(route) == {"data": {"executionId": DOC_ID}}


async def test_no_id_changes_the_upstream_path() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(GET).respond(200, json={"result": view(executionId="../x?y=1#z")})
    adapter = make_adapter(router)
    await adapter.get_execution("../x?y=1#z")
    await adapter.aclose()
    request = route.calls.last.request
    assert request.url.raw_path == GET.encode()
    assert sent(route) == {"data": {"executionId": "../x?y=1#z"}}


def envelope(status: str) -> dict[str, Any]:
    return {"error": {"message": "ERROR_MESSAGE k_secret", "status": status}}


@pytest.mark.parametrize(
    ("response", "error", "code", "upstream_code"),
    [
        pytest.param(
            httpx.Response(404, json=envelope("NOT_FOUND")),
            ExecutionNotFound,
            "NOT_FOUND",
            "NOT_FOUND",
            id="not-found",
        ),
        pytest.param(
            httpx.Response(400, json=envelope("INVALID_ARGUMENT")),
            UpstreamRejected,
            "BAD_USER_INPUT",
            "INVALID_ARGUMENT",
            id="invalid-argument",
        ),
        pytest.param(
            httpx.Response(403, json=envelope("PERMISSION_DENIED")),
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            "PERMISSION_DENIED",
            id="permission-denied",
        ),
        pytest.param(
            httpx.Response(401, json=envelope("UNAUTHENTICATED")),
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            "UNAUTHENTICATED",
            id="unauthenticated",
        ),
        pytest.param(
            httpx.Response(429, headers={"retry-after": "7"}, json=envelope("RESOURCE_EXHAUSTED")),
            UpstreamRateLimited,
            "UPSTREAM_RATE_LIMITED",
            "RESOURCE_EXHAUSTED",
            id="resource-exhausted",
        ),
        pytest.param(
            httpx.Response(400, json=envelope("FAILED_PRECONDITION")),
            UpstreamConflict,
            "CONFLICT",
            "FAILED_PRECONDITION",
            id="failed-precondition-beats-400",
        ),
        pytest.param(
            httpx.Response(409, json=envelope("ALREADY_EXISTS")),
            UpstreamConflict,
            "CONFLICT",
            "ALREADY_EXISTS",
            id="already-exists",
        ),
        pytest.param(
            httpx.Response(504, json=envelope("DEADLINE_EXCEEDED")),
            UpstreamTimeout,
            "UPSTREAM_TIMEOUT",
            "DEADLINE_EXCEEDED",
            id="deadline-exceeded",
        ),
        pytest.param(
            httpx.Response(500, json=envelope("INTERNAL")),
            UpstreamUnavailable,
            "UPSTREAM_UNAVAILABLE",
            "INTERNAL",
            id="internal",
        ),
        pytest.param(
            httpx.Response(200, json=envelope("NOT_FOUND")),
            ExecutionNotFound,
            "NOT_FOUND",
            "NOT_FOUND",
            id="200-with-not-found",
        ),
        pytest.param(
            httpx.Response(200, json=envelope("PERMISSION_DENIED")),
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            "PERMISSION_DENIED",
            id="200-with-permission-denied",
        ),
        pytest.param(
            httpx.Response(200, json=envelope("SOMETHING_NEW")),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            "SOMETHING_NEW",
            id="200-with-unknown-status",
        ),
        pytest.param(
            httpx.Response(403, json=envelope("SOMETHING_NEW")),
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            None,
            id="unknown-status-falls-back-to-http",
        ),
        pytest.param(
            httpx.Response(500, text="oops"),
            UpstreamUnavailable,
            "UPSTREAM_UNAVAILABLE",
            None,
            id="500-without-envelope",
        ),
        pytest.param(
            httpx.Response(200, text="<html>"),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            None,
            id="not-json",
        ),
        pytest.param(
            httpx.Response(200, json={"result": {"status": "running"}}),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            None,
            id="result-without-id",
        ),
    ],
)
async def test_upstream_failures_become_typed_errors(
    response: httpx.Response, error: type[UpstreamError], code: str, upstream_code: str | None
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(GET).mock(return_value=response)
    adapter = make_adapter(router)
    with pytest.raises(error) as caught:
        await adapter.get_execution("exec_1")
    await adapter.aclose()
    assert caught.value.code == code
    assert caught.value.upstream_code == upstream_code
    assert caught.value.source == "velt"
    assert caught.value.native_id == "exec_1"
    assert "secret" not in str(caught.value)
    assert "ERROR_MESSAGE" not in str(caught.value)
    if isinstance(caught.value, UpstreamRateLimited):
        assert caught.value.retry_after == 7.0


async def test_timeout_becomes_upstream_timeout() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(GET).mock(side_effect=httpx.ReadTimeout("slow"))
    adapter = make_adapter(router)
    with pytest.raises(UpstreamTimeout) as caught:
        await adapter.get_execution("exec_1")
    await adapter.aclose()
    assert caught.value.code == "UPSTREAM_TIMEOUT"


async def test_list_sends_the_filter_and_returns_the_cursor() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    items = [view(executionId="exec_2", startedAt=2), view(executionId="exec_1", startedAt=1)]
    route = router.post(LIST).respond(200, json={"result": {"items": items, "nextCursor": "1"}})
    adapter = make_adapter(router)
    page = await adapter.list_executions(
        cursor="5", page_size=2, status=ExecutionStatus.WAITING_FOR_APPROVAL
    )
    await adapter.aclose()
    assert sent(route) == {"data": {"pageSize": 2, "cursor": "5", "status": "running"}}
    assert [e.native_id for e in page.items] == ["exec_2", "exec_1"]
    assert page.next_cursor == "1"
    assert page.complete is False


@pytest.mark.parametrize(
    ("status", "page_size", "data"),
    [
        pytest.param(None, 50, {"pageSize": 50}, id="no-filter"),
        pytest.param(
            ExecutionStatus.PENDING, 50, {"pageSize": 50, "status": "pending"}, id="pending"
        ),
        pytest.param(
            ExecutionStatus.CANCELLED, 50, {"pageSize": 50, "status": "cancelled"}, id="cancelled"
        ),
        pytest.param(ExecutionStatus.TIMED_OUT, 50, {"pageSize": 50}, id="timed-out-unfiltered"),
        pytest.param(ExecutionStatus.UNKNOWN, 50, {"pageSize": 50}, id="unknown-unfiltered"),
        pytest.param(None, 1000, {"pageSize": 500}, id="clamped-high"),
        pytest.param(None, 0, {"pageSize": 1}, id="clamped-low"),
    ],
)
async def test_list_maps_statuses_to_velt_filters(
    status: ExecutionStatus | None, page_size: int, data: dict[str, Any]
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(LIST).respond(200, json={"result": {"items": [], "nextCursor": None}})
    adapter = make_adapter(router)
    page = await adapter.list_executions(cursor=None, page_size=page_size, status=status)
    await adapter.aclose()
    assert sent(route) == {"data": data}
    assert page.next_cursor is None


WAITING = view(
    executionId="exec_w",
    steps=[step(), human("waiting", {"reviewerIds": ["lead@example.com", "ops@example.com"]})],
)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        pytest.param("record_decision_recorded_pending.json", ApprovalStatus.PENDING, id="pending"),
        pytest.param(
            "record_decision_recorded_resolved.json", ApprovalStatus.APPROVED, id="resolved"
        ),
        pytest.param(
            "record_decision_recorded_rejected.json", ApprovalStatus.REJECTED, id="rejected"
        ),
    ],
)
async def test_decide_reports_what_velt_recorded(name: str, status: ApprovalStatus) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(DECIDE).respond(200, json=fixture(name))
    adapter = make_adapter(router)
    execution = parse_execution(WAITING)
    (approval,) = execution.approvals
    result = await adapter.decide(
        execution,
        approval,
        Decision.APPROVE,
        reviewer_id="lead@example.com",
        notes="fine",
        idempotency_key="mut-1",
    )
    await adapter.aclose()
    assert result == DecisionOutcome(
        approval_status=status, requested=Decision.APPROVE, recorded_decision=Decision.APPROVE
    )
    assert result.matches_request is True
    assert sent(route) == {
        "data": {
            "executionId": "exec_w",
            "stepId": "step_h",
            "reviewerId": "lead@example.com",
            "decision": "approve",
            "reason": "fine",
        }
    }


async def test_a_recorded_reply_without_aggregator_leaves_the_state_unknown() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(DECIDE).respond(200, json={"result": {"recorded": True, "aggregatorStatus": None}})
    adapter = make_adapter(router)
    execution = parse_execution(WAITING)
    result = await adapter.decide(
        execution,
        execution.approvals[0],
        Decision.REJECT,
        reviewer_id="lead@example.com",
        notes=None,
        idempotency_key="mut-1",
    )
    await adapter.aclose()
    assert (result.approval_status, result.recorded_decision) == (None, Decision.REJECT)


RESOLVED_OUTPUT = fixture("human_step_resolved.json")["output"]
REJECTED_OUTPUT = fixture("human_step_rejected.json")["output"]
LEAD, OPS = "lead@example.com", "ops@example.com"
HALFWAY = {"reviewerIds": [LEAD, OPS], "approveCount": 1, "mandatoryApproveCount": 1}


@pytest.mark.parametrize(
    ("reread", "reviewer", "decision", "recorded", "status"),
    [
        pytest.param(
            human("completed", RESOLVED_OUTPUT),
            LEAD,
            Decision.APPROVE,
            Decision.APPROVE,
            ApprovalStatus.APPROVED,
            id="resolved-same-decision",
        ),
        pytest.param(
            human("completed", RESOLVED_OUTPUT),
            LEAD,
            Decision.REJECT,
            Decision.APPROVE,
            ApprovalStatus.APPROVED,
            id="resolved-other-decision",
        ),
        # Any rejection settles the step: one still waiting after this reviewer voted holds
        # their approval, though the output's counts do not say whose it is.
        pytest.param(
            human("waiting", HALFWAY),
            LEAD,
            Decision.APPROVE,
            Decision.APPROVE,
            ApprovalStatus.PENDING,
            id="waiting-same-decision",
        ),
        pytest.param(
            human("waiting", HALFWAY),
            LEAD,
            Decision.REJECT,
            Decision.APPROVE,
            ApprovalStatus.PENDING,
            id="waiting-other-decision",
        ),
        pytest.param(
            human("completed", REJECTED_OUTPUT),
            OPS,
            Decision.REJECT,
            Decision.REJECT,
            ApprovalStatus.REJECTED,
            id="rejected-by-this-reviewer",
        ),
        pytest.param(
            human("completed", REJECTED_OUTPUT),
            OPS,
            Decision.APPROVE,
            Decision.REJECT,
            ApprovalStatus.REJECTED,
            id="rejected-by-this-reviewer-asked-approve",
        ),
        pytest.param(
            human("completed", {**REJECTED_OUTPUT, "mandatoryApproveCount": None}),
            LEAD,
            Decision.APPROVE,
            Decision.APPROVE,
            ApprovalStatus.REJECTED,
            id="rejected-by-another-reviewer",
        ),
        pytest.param(
            human(
                "completed",
                {k: v for k, v in REJECTED_OUTPUT.items() if k not in ("rejectedBy",)},
            ),
            OPS,
            Decision.REJECT,
            None,
            ApprovalStatus.REJECTED,
            id="rejected-without-rejected-by",
        ),
    ],
)
async def test_an_idempotent_refusal_says_what_is_on_record(
    reread: dict[str, Any],
    reviewer: str,
    decision: Decision,
    recorded: Decision | None,
    status: ApprovalStatus,
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(DECIDE).respond(200, json=fixture("record_decision_idempotent.json"))
    get = router.post(GET).respond(200, json={"result": view(executionId="exec_w", steps=[reread])})
    adapter = make_adapter(router)
    execution = parse_execution(WAITING)
    result = await adapter.decide(
        execution,
        execution.approvals[0],
        decision,
        reviewer_id=reviewer,
        notes=None,
        idempotency_key="mut-1",
    )
    await adapter.aclose()
    assert get.call_count == 1
    assert (result.already_recorded, result.detail) == (True, "idempotent")
    assert (result.requested, result.recorded_decision) == (decision, recorded)
    assert result.matches_request is (None if recorded is None else recorded is decision)
    assert result.approval_status is status
    assert result.approval is not None
    assert result.approval.key == "step_h"


@pytest.mark.parametrize(
    ("aggregator", "recorded"),
    [
        pytest.param("pending", Decision.APPROVE, id="pending"),
        pytest.param("resolved", Decision.APPROVE, id="resolved"),
        pytest.param("rejected", None, id="rejected"),
    ],
)
async def test_an_idempotent_refusal_stands_when_the_reread_fails(
    aggregator: str, recorded: Decision | None
) -> None:
    """The reply's own ``aggregatorStatus`` says which way, except for a rejection (whose?)."""
    reply = fixture("record_decision_idempotent.json")
    reply["result"]["aggregatorStatus"] = aggregator
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(DECIDE).respond(200, json=reply)
    router.post(GET).respond(404, json=envelope("NOT_FOUND"))
    adapter = make_adapter(router)
    execution = parse_execution(WAITING)
    result = await adapter.decide(
        execution,
        execution.approvals[0],
        Decision.APPROVE,
        reviewer_id=LEAD,
        notes=None,
        idempotency_key="mut-1",
    )
    await adapter.aclose()
    assert result.already_recorded is True
    assert result.approval_status is _AGGREGATOR[aggregator]
    assert (result.recorded_decision, result.approval) == (recorded, None)


_AGGREGATOR = {
    "pending": ApprovalStatus.PENDING,
    "resolved": ApprovalStatus.APPROVED,
    "rejected": ApprovalStatus.REJECTED,
}


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        pytest.param(
            httpx.Response(200, json=fixture("record_decision_already_terminal.json")),
            UpstreamConflict,
            "CONFLICT",
            id="already-terminal",
        ),
        pytest.param(
            httpx.Response(200, json=fixture("record_decision_unknown_responder.json")),
            UpstreamForbidden,
            "FORBIDDEN",
            id="unknown-responder",
        ),
        pytest.param(
            httpx.Response(200, json=fixture("record_decision_aggregator_missing.json")),
            UpstreamConflict,
            "CONFLICT",
            id="aggregator-missing",
        ),
        pytest.param(
            httpx.Response(200, json={"result": {"recorded": False, "reason": "idempotent"}}),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="undocumented-reason-field",
        ),
        pytest.param(
            httpx.Response(200, json={"result": {"recorded": False, "rejectionReason": "what"}}),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="unknown-reason",
        ),
        pytest.param(
            httpx.Response(200, json={"result": {"recorded": False}}),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="no-reason",
        ),
        pytest.param(
            httpx.Response(200, json={"result": {"aggregatorStatus": "pending"}}),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="no-recorded-field",
        ),
        pytest.param(
            httpx.Response(400, json=envelope("FAILED_PRECONDITION")),
            UpstreamConflict,
            "CONFLICT",
            id="not-waiting",
        ),
    ],
)
async def test_decide_refusals_become_typed_errors(
    response: httpx.Response, error: type[UpstreamError], code: str
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(DECIDE).mock(return_value=response)
    adapter = make_adapter(router)
    execution = parse_execution(WAITING)
    with pytest.raises(error) as caught:
        await adapter.decide(
            execution,
            execution.approvals[0],
            Decision.REJECT,
            reviewer_id="lead@example.com",
            notes=None,
            idempotency_key="mut-2",
        )
    await adapter.aclose()
    assert caught.value.code == code
    assert (caught.value.source, caught.value.native_id) == ("velt", "exec_w")
    assert sent(route)["data"]["decision"] == "reject"
    assert "reason" not in sent(route)["data"]


async def test_decide_without_a_reviewer_id_is_refused_before_any_call() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(DECIDE).respond(200, json={"result": {"recorded": True}})
    adapter = make_adapter(router)
    execution = parse_execution(copy.deepcopy(WAITING))
    with pytest.raises(UpstreamForbidden) as caught:
        await adapter.decide(
            execution,
            execution.approvals[0],
            Decision.APPROVE,
            reviewer_id=None,
            notes=None,
            idempotency_key="mut-3",
        )
    await adapter.aclose()
    assert "reviewer id" in str(caught.value)
    assert route.call_count == 0


EVENTS = "/v2/workflow/executions/getEvents"


async def test_the_event_log_is_read_a_page_at_a_time_by_seq() -> None:
    """``getEvents`` as documented: ``{executionId, sinceSeq, pageSize}`` in, ``{executionId,
    events[{eventId, seq, type, stepId, timestamp, correlationId, data?}], nextCursor, hasMore}``
    out; ``seq`` has gaps."""
    router = respx.Router(base_url=BASE, assert_all_called=False)
    page = {
        "executionId": DOC_ID,
        "events": [
            {
                "eventId": "e1",
                "seq": 1,
                "type": "execution.dispatched",
                "stepId": None,
                "timestamp": 1777374504255,
                "correlationId": "c",
            },
            {
                "eventId": "e4",
                "seq": 4,
                "type": "step.awaiting-approval",
                "stepId": "s1",
                "timestamp": 1777374505255,
                "correlationId": "c",
                "data": {"waitingForReviewers": ["a@example.com"], "mandatoryCount": 1},
            },
        ],
        "nextCursor": "4",
        "hasMore": True,
    }
    route = router.post(EVENTS).respond(200, json={"result": page})
    adapter = make_adapter(router)
    found = await adapter.events_page(DOC_ID, since_seq=0, page_size=9999)
    await adapter.aclose()
    assert sent(route) == {"data": {"executionId": DOC_ID, "sinceSeq": 0, "pageSize": 500}}
    assert [(e.seq, e.type, e.step_native_id) for e in found.events] == [
        (1, "execution.dispatched", None),
        (4, "step.awaiting-approval", "s1"),
    ]
    assert found.events[0].at is not None
    assert found.events[1].data == {"waitingForReviewers": ["a@example.com"], "mandatoryCount": 1}
    assert found.next_seq == 4


async def test_the_last_event_page_says_there_is_no_more() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    last: dict[str, Any] = {
        "executionId": DOC_ID,
        "events": [],
        "nextCursor": None,
        "hasMore": False,
    }
    router.post(EVENTS).respond(200, json={"result": last})
    adapter = make_adapter(router)
    found = await adapter.events_page(DOC_ID, since_seq=7, page_size=10)
    await adapter.aclose()
    assert found.events == ()
    assert found.next_seq is None
