"""Velt adapter behaviour that mutation testing showed no test would notice (issue #35).

Retries (reads retry, decision POSTs never), the documented resolution fields (``decision``,
``approved``), optional reviewers and the aggregate counts, and event-log paging by ``hasMore``.
Payloads follow the vendor's documented shapes (``tests/fixtures/velt``); the client runs over respx.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
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
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamForbidden,
    UpstreamUnavailable,
)
from adapters.model import ApprovalStatus, ExecutionStatus, Reviewer, StepStatus
from adapters.velt import (
    DECIDE_PATH,
    EVENTS_PATH,
    GET_PATH,
    LIST_PATH,
    VeltAdapter,
    parse_event_page,
    parse_execution,
    parse_execution_page,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "velt"
BASE = "https://velt.test"
DOC_ID = "exec_1777374504255_xzy43k9q"
UNAVAILABLE = {"error": {"message": "ERROR_MESSAGE", "status": "UNAVAILABLE"}}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def view(*steps: dict[str, Any], status: str = "running") -> dict[str, Any]:
    """The documented ``executions/get`` example with ``steps`` and ``status`` swapped in."""
    result = fixture("get_execution_doc_example.json")["result"]
    return {**result, "status": status, "completedAt": None, "steps": list(steps)}


def human(status: str, output: dict[str, Any]) -> dict[str, Any]:
    """The documented resolved human step with another status and output."""
    step: dict[str, Any] = fixture("human_step_resolved.json")
    return {**step, "status": status, "output": output}


def make_adapter(router: respx.Router, *, retries: int = 2) -> VeltAdapter:
    adapter = VeltAdapter.create(
        name="velt",
        base_url=BASE,
        credentials=Credentials(api_key="k", auth_token="t"),
        settings=HTTPSettings(timeout_s=1.0, retries=retries),
        transport=httpx.MockTransport(router.async_handler),
    )
    assert isinstance(adapter, VeltAdapter)
    return adapter


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# --- retries: reads are POSTs that may be retried; a decision is never sent twice ------------


async def test_a_read_execution_is_retried_after_an_unavailable_reply() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(GET_PATH).mock(
        side_effect=[
            httpx.Response(503, json=UNAVAILABLE),
            httpx.Response(200, json=fixture("get_execution_doc_example.json")),
        ]
    )
    adapter = make_adapter(router)
    execution = await adapter.get_execution(DOC_ID)
    await adapter.aclose()
    assert execution.native_id == DOC_ID
    assert route.call_count == 2


async def test_a_list_is_retried_after_an_unavailable_reply() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    listed = {"result": {"items": [view(status="completed")], "nextCursor": None}}
    route = router.post(LIST_PATH).mock(
        side_effect=[httpx.Response(503, json=UNAVAILABLE), httpx.Response(200, json=listed)]
    )
    adapter = make_adapter(router)
    page = await adapter.list_executions(cursor=None, page_size=10)
    await adapter.aclose()
    assert [e.native_id for e in page.items] == [DOC_ID]
    assert route.call_count == 2


async def test_an_event_page_is_retried_after_an_unavailable_reply() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    events: dict[str, Any] = {
        "result": {"executionId": DOC_ID, "events": [], "nextCursor": None, "hasMore": False}
    }
    route = router.post(EVENTS_PATH).mock(
        side_effect=[httpx.Response(503, json=UNAVAILABLE), httpx.Response(200, json=events)]
    )
    adapter = make_adapter(router)
    page = await adapter.events_page(DOC_ID, since_seq=0, page_size=10)
    await adapter.aclose()
    assert page.events == ()
    assert route.call_count == 2


async def test_a_decision_is_never_retried() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(DECIDE_PATH).respond(503, json=UNAVAILABLE)
    adapter = make_adapter(router)
    execution = parse_execution(view(human("waiting", {"reviewerIds": ["lead@example.com"]})))
    (approval,) = execution.approvals
    with pytest.raises(UpstreamUnavailable):
        await adapter.decide(
            execution,
            approval,
            Decision.APPROVE,
            reviewer_id="lead@example.com",
            notes=None,
            idempotency_key="k1",
        )
    await adapter.aclose()
    assert route.call_count == 1


# --- the documented resolution fields, one at a time ----------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param({"decision": "approve"}, ApprovalStatus.APPROVED, id="decision-approve"),
        pytest.param({"decision": "approved"}, ApprovalStatus.APPROVED, id="decision-approved"),
        pytest.param({"approved": True}, ApprovalStatus.APPROVED, id="approved-true"),
        pytest.param({"decision": "rejected"}, ApprovalStatus.REJECTED, id="decision-rejected"),
        pytest.param({"approved": False}, ApprovalStatus.REJECTED, id="approved-false"),
        pytest.param({"aggregatorStatus": "pending"}, ApprovalStatus.PENDING, id="pending"),
        pytest.param({}, ApprovalStatus.PENDING, id="nothing-yet"),
    ],
)
def test_one_resolution_field_alone_settles_a_waiting_step(
    output: dict[str, Any], expected: ApprovalStatus
) -> None:
    output = {"reviewerIds": ["lead@example.com"], **output}
    execution = parse_execution(view(human("waiting", output)))
    (approval,) = execution.approvals
    assert approval.status is expected
    waiting = expected is ApprovalStatus.PENDING
    assert execution.steps[0].status is (
        StepStatus.WAITING_FOR_APPROVAL if waiting else StepStatus.RUNNING
    )
    assert execution.status is (
        ExecutionStatus.WAITING_FOR_APPROVAL if waiting else ExecutionStatus.RUNNING
    )


def test_a_completed_step_without_a_rejection_marker_is_approved() -> None:
    (approval,) = parse_execution(view(human("completed", {"reviewerIds": ["a"]}))).approvals
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.decided_by == "a"  # the one mandatory reviewer settled it


# --- reviewers and counts -------------------------------------------------------------------


def test_optional_reviewers_are_approved_when_the_counts_leave_no_doubt() -> None:
    output = {
        "reviewers": [
            {"userId": "lead@example.com", "mandatory": True},
            {"userId": "brand@example.com", "mandatory": False},
            {"userId": "legal@example.com"},
        ],
        "approveCount": 3,
        "mandatoryApproveCount": 1,
    }
    (approval,) = parse_execution(view(human("waiting", output))).approvals
    assert approval.reviewers == (
        Reviewer(id="lead@example.com", mandatory=True, decision=ApprovalStatus.APPROVED),
        Reviewer(id="brand@example.com", mandatory=False, decision=ApprovalStatus.APPROVED),
        Reviewer(id="legal@example.com", mandatory=None, decision=ApprovalStatus.APPROVED),
    )


@pytest.mark.parametrize("approve_count", [1, 2, None])
def test_optional_reviewers_stay_unknown_when_the_counts_do_not_pin_them(
    approve_count: int | None,
) -> None:
    output = {
        "reviewers": [
            {"userId": "lead@example.com", "mandatory": True},
            {"userId": "brand@example.com", "mandatory": False},
            {"userId": "legal@example.com", "mandatory": False},
        ],
        "approveCount": approve_count,
        "mandatoryApproveCount": 1,
    }
    (approval,) = parse_execution(view(human("waiting", output))).approvals
    assert [r.decision for r in approval.reviewers] == [ApprovalStatus.APPROVED, None, None]


def test_a_resolved_step_with_only_optional_reviewers_pins_no_vote() -> None:
    output = {
        "reviewers": [{"userId": "brand@example.com", "mandatory": False}, "plain@example.com"],
        "aggregatorStatus": "resolved",
        "approveCount": 1,
    }
    (approval,) = parse_execution(view(human("completed", output))).approvals
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.reviewers == (
        Reviewer(id="brand@example.com", mandatory=False),
        Reviewer(id="plain@example.com", mandatory=None),
    )
    assert approval.decided_by is None


def test_the_counts_velt_reports_win_over_the_ones_derived_from_reviewers() -> None:
    output = {
        "reviewerIds": ["a", "b"],
        "approveCount": 5,
        "rejectCount": 4,
        "mandatoryCount": 3,
    }
    (approval,) = parse_execution(view(human("waiting", output))).approvals
    assert (approval.approve_count, approval.reject_count, approval.required_count) == (5, 4, 3)


def test_counts_are_derived_from_the_reviewers_when_velt_gives_none() -> None:
    output = {
        "reviewers": [
            {"userId": "a", "mandatory": True},
            {"userId": "b", "mandatory": True},
            {"userId": "c", "mandatory": False},
        ],
        "rejectedBy": "b",
        "aggregatorStatus": "rejected",
        "mandatoryApproveCount": 1,
    }
    (approval,) = parse_execution(view(human("completed", output))).approvals
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.decided_by == "b"
    assert [r.decision for r in approval.reviewers] == [
        ApprovalStatus.APPROVED,
        ApprovalStatus.REJECTED,
        None,
    ]
    assert (approval.approve_count, approval.reject_count, approval.required_count) == (1, 1, 2)


def test_without_reviewers_the_counts_stay_unknown() -> None:
    (approval,) = parse_execution(view(human("waiting", {}))).approvals
    assert approval.reviewers == ()
    assert (approval.approve_count, approval.reject_count, approval.required_count) == (
        None,
        None,
        None,
    )


# --- the event log pages by hasMore ---------------------------------------------------------


def event(seq: Any, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": f"e{seq}",
        "seq": seq,
        "type": "step.completed",
        "stepId": "s1",
        "timestamp": 1777374504255,
        "correlationId": "c",
        **fields,
    }


@pytest.mark.parametrize(
    ("has_more", "events", "next_seq"),
    [
        pytest.param(True, [event(3), event(9), event(12)], 12, id="more-after-the-last-seq"),
        pytest.param(False, [event(3), event(9)], None, id="no-more"),
        pytest.param(True, [], None, id="more-but-empty"),
        pytest.param("true", [event(3)], None, id="not-a-boolean"),
        pytest.param(None, [event(3)], None, id="absent"),
    ],
)
def test_the_next_event_page_starts_after_the_last_seq_only_while_has_more(
    has_more: Any, events: list[dict[str, Any]], next_seq: int | None
) -> None:
    reply = {"executionId": DOC_ID, "events": events, "nextCursor": None, "hasMore": has_more}
    page = parse_event_page({"result": reply})
    assert page.next_seq == next_seq
    assert [e.seq for e in page.events] == [e["seq"] for e in events]


def test_an_event_without_a_type_is_unknown_and_keeps_its_fields() -> None:
    raw = event(4, type=None, stepId=None, data={"mandatoryCount": 2})
    page = parse_event_page({"result": {"events": [raw], "hasMore": False}})
    (found,) = page.events
    assert (found.type, found.step_native_id, found.data) == (
        "unknown",
        None,
        {"mandatoryCount": 2},
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param([], "event list: expected a JSON object, got list", id="not-an-object"),
        pytest.param({"executionId": DOC_ID}, "missing required field 'events'", id="no-events"),
        pytest.param(
            {"events": {"0": event(1)}}, "missing required field 'events'", id="events-object"
        ),
        pytest.param({"events": [event("1")]}, "an event without an integer 'seq'", id="text-seq"),
        pytest.param(
            {"events": [event(1), "e2"]}, "an event without an integer 'seq'", id="text-event"
        ),
    ],
)
def test_a_malformed_event_page_is_refused(payload: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=f"^{re.escape(message)}$"):
        parse_event_page(payload)


async def test_a_failed_event_read_names_the_execution() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(EVENTS_PATH).respond(404, json={"error": {"message": "M", "status": "NOT_FOUND"}})
    adapter = make_adapter(router)
    with pytest.raises(ExecutionNotFound) as missing:
        await adapter.events_page(DOC_ID, since_seq=0, page_size=10)
    await adapter.aclose()
    assert missing.value.native_id == DOC_ID


async def test_an_unreadable_event_page_names_the_execution() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(EVENTS_PATH).respond(200, json={"result": {"events": "none"}})
    adapter = make_adapter(router)
    with pytest.raises(UpstreamBadResponse) as bad:
        await adapter.events_page(DOC_ID, since_seq=0, page_size=10)
    await adapter.aclose()
    assert bad.value.native_id == DOC_ID
    assert "missing required field 'events'" in str(bad.value)


@pytest.mark.parametrize(
    ("since_seq", "page_size", "body"),
    [
        pytest.param(-5, 0, {"sinceSeq": 0, "pageSize": 1}, id="clamped-up"),
        pytest.param(12, 500, {"sinceSeq": 12, "pageSize": 500}, id="at-the-bound"),
        pytest.param(12, 501, {"sinceSeq": 12, "pageSize": 500}, id="clamped-down"),
    ],
)
async def test_event_reads_stay_within_the_documented_bounds(
    since_seq: int, page_size: int, body: dict[str, int]
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    reply = {"result": {"executionId": DOC_ID, "events": [], "hasMore": False}}
    route = router.post(EVENTS_PATH).respond(200, json=reply)
    adapter = make_adapter(router)
    await adapter.events_page(DOC_ID, since_seq=since_seq, page_size=page_size)
    await adapter.aclose()
    assert sent(route) == {"data": {"executionId": DOC_ID, **body}}


@pytest.mark.parametrize(
    ("cursor", "page_size", "status", "body"),
    [
        pytest.param(None, 0, None, {"pageSize": 1}, id="first-page-clamped-up"),
        pytest.param("", 500, None, {"pageSize": 500}, id="empty-cursor-is-none"),
        pytest.param(
            "1777374504364",
            900,
            ExecutionStatus.WAITING_FOR_APPROVAL,
            {"pageSize": 500, "cursor": "1777374504364", "status": "running"},
            id="clamped-down-with-filter",
        ),
        pytest.param(None, 10, ExecutionStatus.TIMED_OUT, {"pageSize": 10}, id="no-velt-word"),
    ],
)
async def test_list_reads_stay_within_the_documented_bounds(
    cursor: str | None, page_size: int, status: ExecutionStatus | None, body: dict[str, Any]
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(LIST_PATH).respond(200, json={"result": {"items": [], "nextCursor": ""}})
    adapter = make_adapter(router)
    page = await adapter.list_executions(cursor=cursor, page_size=page_size, status=status)
    await adapter.aclose()
    assert sent(route) == {"data": body}
    assert page.next_cursor is None
    assert page.complete is False


# --- decisions: replies Velt may give, and what an idempotent refusal holds ----------------


def waiting_execution() -> Any:
    return parse_execution(view(human("waiting", {"reviewerIds": ["lead@example.com"]})))


async def decide_against(
    reply: Any, reread: dict[str, Any] | None = None, *, reviewer: str = "lead@example.com"
) -> tuple[DecisionOutcome, respx.Route]:
    """Send one approval to a Velt answering ``reply`` (and ``reread`` on executions/get)."""
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(DECIDE_PATH).respond(200, json=reply)
    get = router.post(GET_PATH).respond(200, json={"result": view(reread or human("waiting", {}))})
    adapter = make_adapter(router)
    execution = waiting_execution()
    try:
        outcome = await adapter.decide(
            execution,
            execution.approvals[0],
            Decision.APPROVE,
            reviewer_id=reviewer,
            notes=None,
            idempotency_key="k1",
        )
    finally:
        await adapter.aclose()
    return outcome, get


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param([], "(decision reply: expected a JSON object, got list)", id="not-an-object"),
        pytest.param(
            {"result": {"aggregatorStatus": "pending"}},
            "(missing required field 'recorded')",
            id="without-recorded",
        ),
    ],
)
async def test_an_unreadable_decision_reply_is_a_bad_response(reply: Any, message: str) -> None:
    with pytest.raises(UpstreamBadResponse, match=re.escape(message)):
        await decide_against(reply)


async def test_the_reread_after_an_idempotent_refusal_asks_for_the_same_execution() -> None:
    _, get = await decide_against(fixture("record_decision_idempotent.json"))
    assert get.call_count == 1
    assert sent(get) == {"data": {"executionId": DOC_ID}}


async def test_an_idempotent_refusal_reads_the_reviewers_own_vote_first() -> None:
    """Rejected by an optional reviewer through steps/resolve (no ``rejectedBy``): the step's
    state alone pins nobody, but the counts say the mandatory reviewer approved."""
    reread = human(
        "completed",
        {
            "reviewers": [
                {"userId": "lead@example.com", "mandatory": True},
                {"userId": "brand@example.com", "mandatory": False},
            ],
            "aggregatorStatus": "rejected",
            "approveCount": 1,
            "mandatoryApproveCount": 1,
        },
    )
    outcome, _ = await decide_against(fixture("record_decision_idempotent.json"), reread)
    assert outcome.approval_status is ApprovalStatus.REJECTED
    assert outcome.recorded_decision is Decision.APPROVE


async def test_an_idempotent_refusal_by_the_named_rejector_holds_their_rejection() -> None:
    """``rejectedBy`` names a reviewer the output does not list: the rejection is still theirs."""
    reread = human(
        "completed",
        {"reviewerIds": ["ops@example.com"], "aggregatorStatus": "rejected", "rejectedBy": "me"},
    )
    outcome, _ = await decide_against(
        fixture("record_decision_idempotent.json"), reread, reviewer="me"
    )
    assert outcome.approval_status is ApprovalStatus.REJECTED
    assert outcome.recorded_decision is Decision.REJECT
    assert outcome.matches_request is False


def test_an_execution_list_that_is_not_a_list_reply_is_refused() -> None:
    with pytest.raises(
        PayloadError,
        match="^" + re.escape("execution list: expected a JSON object, got list") + "$",
    ):
        parse_execution_page([])
    with pytest.raises(PayloadError, match=r"^missing required field 'items'$"):
        parse_execution_page({"result": {"items": None, "nextCursor": None}})


@pytest.mark.parametrize(
    ("reply", "error", "detail", "upstream_code"),
    [
        pytest.param(
            "record_decision_already_terminal.json",
            UpstreamConflict,
            "the vote was not recorded (already-terminal)",
            "already-terminal",
            id="already-terminal",
        ),
        pytest.param(
            {"result": {"recorded": False, "aggregatorStatus": None, "rejectionReason": "novel"}},
            UpstreamBadResponse,
            "the vote was not recorded (novel)",
            "novel",
            id="an-unknown-reason",
        ),
        pytest.param(
            {"result": {"recorded": False, "aggregatorStatus": None}},
            UpstreamBadResponse,
            "the vote was not recorded and no reason was given",
            None,
            id="no-reason",
        ),
    ],
)
async def test_a_refused_vote_says_why(
    reply: Any, error: type[UpstreamError], detail: str, upstream_code: str | None
) -> None:
    with pytest.raises(error) as refused:
        await decide_against(fixture(reply) if isinstance(reply, str) else reply)
    assert type(refused.value) is error
    assert refused.value.detail == detail
    assert refused.value.upstream_code == upstream_code
    assert (refused.value.source, refused.value.native_id) == ("velt", DOC_ID)


async def test_a_decision_without_a_reviewer_says_so_and_where() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(DECIDE_PATH).respond(
        200, json=fixture("record_decision_recorded_pending.json")
    )
    adapter = make_adapter(router)
    execution = waiting_execution()
    with pytest.raises(UpstreamForbidden) as refused:
        await adapter.decide(
            execution,
            execution.approvals[0],
            Decision.APPROVE,
            reviewer_id="",
            notes=None,
            idempotency_key="k1",
        )
    await adapter.aclose()
    assert refused.value.detail == "a Velt decision needs the caller's reviewer id"
    assert (refused.value.source, refused.value.native_id) == ("velt", DOC_ID)
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("step_native_id", "step_id"),
    [
        pytest.param(None, "step_h", id="the-key-when-no-step-id"),
        pytest.param("step_other", "step_other", id="the-step-id-first"),
    ],
)
async def test_a_vote_names_the_approvals_step(step_native_id: str | None, step_id: str) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(DECIDE_PATH).respond(
        200, json=fixture("record_decision_recorded_pending.json")
    )
    adapter = make_adapter(router)
    execution = waiting_execution()
    approval = replace(execution.approvals[0], key="step_h", step_native_id=step_native_id)
    await adapter.decide(
        execution,
        approval,
        Decision.REJECT,
        reviewer_id="lead@example.com",
        notes="Off brand",
        idempotency_key="k1",
    )
    await adapter.aclose()
    assert sent(route) == {
        "data": {
            "executionId": DOC_ID,
            "stepId": step_id,
            "reviewerId": "lead@example.com",
            "decision": "reject",
            "reason": "Off brand",
        }
    }


# --- steps ----------------------------------------------------------------------------------


def test_only_an_agent_step_names_its_agent() -> None:
    agent = fixture("get_execution_doc_example.json")["result"]["steps"][0]
    webhook = {**agent, "stepId": "step_w", "nodeType": "webhook"}
    execution = parse_execution(view(agent, webhook, status="completed"))
    assert [s.agent_id for s in execution.steps] == ["publish-agent-v1", None]
    assert execution.steps[0].completed_at == datetime(2026, 4, 28, 11, 14, 1, 986000, tzinfo=UTC)


def test_a_rejection_nobody_is_named_for_is_decided_by_nobody() -> None:
    output = {"reviewerIds": ["lead@example.com"], "aggregatorStatus": "rejected"}
    (approval,) = parse_execution(view(human("completed", output))).approvals
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.reviewers == (Reviewer(id="lead@example.com", mandatory=True),)
    assert approval.decided_by is None


def test_plain_reviewer_ids_and_objects_mix_in_any_order() -> None:
    output = {"reviewers": ["plain@example.com", {"userId": "lead@example.com", "mandatory": True}]}
    (approval,) = parse_execution(view(human("waiting", output))).approvals
    assert approval.reviewers == (
        Reviewer(id="plain@example.com", mandatory=None),
        Reviewer(id="lead@example.com", mandatory=True),
    )


# --- envelopes and the execution itself ----------------------------------------------------


def test_a_reply_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"^execution: expected a JSON object, got list$"):
        parse_execution([])


def test_velt_has_no_creation_time_so_the_start_stands_in() -> None:
    execution = parse_execution(fixture("get_execution_doc_example.json"))
    assert execution.started_at == datetime(2026, 4, 28, 11, 8, 24, 364000, tzinfo=UTC)
    assert execution.created_at == execution.started_at


@pytest.mark.parametrize(
    ("fields", "workflow"),
    [
        pytest.param({"definitionVersion": None}, ("marketing-copy-approval", None), id="id-only"),
        pytest.param({"definitionId": None}, (None, "1"), id="version-only"),
        pytest.param({"definitionId": None, "definitionVersion": None}, None, id="neither"),
    ],
)
def test_a_workflow_is_kept_when_either_half_is_known(
    fields: dict[str, Any], workflow: tuple[str | None, str | None] | None
) -> None:
    payload = fixture("get_execution_doc_example.json")
    execution = parse_execution({"result": {**payload["result"], **fields}})
    found = execution.workflow
    assert (None if found is None else (found.id, found.version)) == workflow


async def test_a_reply_with_a_result_is_read_even_beside_an_error() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    both = {**fixture("get_execution_doc_example.json"), "error": {"status": "NOT_FOUND"}}
    router.post(GET_PATH).respond(200, json=both)
    adapter = make_adapter(router)
    execution = await adapter.get_execution(DOC_ID)
    await adapter.aclose()
    assert execution.native_id == DOC_ID


@pytest.mark.parametrize(
    ("status", "error", "detail"),
    [
        pytest.param("failed-precondition", UpstreamConflict, None, id="hyphenated-word"),
        pytest.param("TEAPOT", UpstreamBadResponse, "an error envelope Velt did not classify"),
    ],
)
async def test_an_error_envelope_is_classified_by_its_status_word(
    status: str, error: type[UpstreamError], detail: str | None
) -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    router.post(GET_PATH).respond(200, json={"error": {"message": "M", "status": status}})
    adapter = make_adapter(router)
    with pytest.raises(error) as caught:
        await adapter.get_execution(DOC_ID)
    await adapter.aclose()
    assert type(caught.value) is error
    assert caught.value.detail == detail
    assert caught.value.upstream_code == status


async def test_missing_credentials_are_sent_empty_never_made_up() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    route = router.post(GET_PATH).respond(200, json=fixture("get_execution_doc_example.json"))
    adapter = VeltAdapter.create(
        name="velt",
        base_url=BASE,
        credentials=Credentials(),
        settings=HTTPSettings(timeout_s=1.0),
        transport=httpx.MockTransport(router.async_handler),
    )
    await adapter.get_execution(DOC_ID)
    await adapter.aclose()
    headers = route.calls.last.request.headers
    assert (headers["x-velt-api-key"], headers["x-velt-auth-token"]) == ("", "")
