"""The Velt-style sandbox, driven in-process by the real VeltAdapter."""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import pytest

from adapters.base import Credentials, Decision
from adapters.engine import HTTPSettings
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamConflict,
    UpstreamForbidden,
    UpstreamRejected,
)
from adapters.model import (
    Approval,
    ApprovalStatus,
    Execution,
    ExecutionStatus,
    StepKind,
    StepStatus,
)
from adapters.velt import VeltAdapter
from sandbox import SANDBOX_CREDENTIALS, Sandbox
from sandbox.velt import DEMO_REVIEWERS, DEMO_WAITING_ID, DOC_EXAMPLE_ID, VeltStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    class AdapterFactory(Protocol):
        def __call__(
            self, api_key: str | None = ..., auth_token: str | None = ...
        ) -> VeltAdapter: ...


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "velt"
KEY = SANDBOX_CREDENTIALS["velt"]["api_key"]
TOKEN = SANDBOX_CREDENTIALS["velt"]["auth_token"]
EXECUTION_ID = re.compile(r"exec_\d{13}_[a-z0-9]{8}")
ROOT_STEP_ID = re.compile(r"step_[a-z-]+_\d{13}_[a-z0-9]{8}")
GET = "/v2/workflow/executions/get"
DECIDE = "/v2/workflow/steps/recordReviewerDecision"
DOCUMENTED_HUMAN_OUTPUT = {
    "reviewers",
    "reviewerIds",
    "reviewerEmails",
    "commentBody",
    "aggregatorStatus",
    "approveCount",
    "rejectCount",
    "totalResponses",
    "mandatoryCount",
    "mandatoryApproveCount",
    "decision",
    "approved",
    "resumedAt",
    "resumeKey",
    "rejectedBy",
    "rejectorMandatory",
}
"""A human step's output fields as the vendor documents them after resolution."""


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
async def make_adapter(sandbox: Sandbox) -> AsyncIterator[AdapterFactory]:
    created: list[VeltAdapter] = []
    app = sandbox.app()

    def make(api_key: str | None = KEY, auth_token: str | None = TOKEN) -> VeltAdapter:
        adapter = VeltAdapter.create(
            name="velt",
            base_url="http://sandbox",
            credentials=Credentials(api_key=api_key, auth_token=auth_token),
            settings=HTTPSettings(),
            transport=httpx.ASGITransport(app=app),
        )
        assert isinstance(adapter, VeltAdapter)
        created.append(adapter)
        return adapter

    yield make
    for adapter in created:
        await adapter.aclose()


@pytest.fixture
async def raw(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client with the sandbox's credentials, for what the adapter never sends."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app()),
        base_url="http://sandbox",
        headers={"x-velt-api-key": KEY, "x-velt-auth-token": TOKEN},
    ) as client:
        yield client


async def decide(
    adapter: VeltAdapter,
    execution: Execution,
    approval: Approval,
    decision: Decision,
    reviewer: str,
    notes: str | None = None,
) -> Any:
    return await adapter.decide(
        execution, approval, decision, reviewer_id=reviewer, notes=notes, idempotency_key="k"
    )


# --- seed data ------------------------------------------------------------------------------


async def test_every_seeded_execution_parses(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    statuses: Counter[ExecutionStatus] = Counter()
    step_statuses: set[tuple[StepKind, str | None, StepStatus]] = set()
    approvals: Counter[ApprovalStatus] = Counter()
    groups: set[str] = set()
    for native_id in sandbox.velt.executions:
        execution = await adapter.get_execution(native_id)
        assert execution.native_id == native_id
        statuses[execution.status] += 1
        assert execution.started_at is not None
        assert execution.workflow is not None
        assert execution.workflow.id is not None
        assert [s.index for s in execution.steps] == list(range(len(execution.steps)))
        for step in execution.steps:
            assert step.kind is not StepKind.UNKNOWN
            assert step.status is not StepStatus.UNKNOWN
            step_statuses.add((step.kind, step.upstream_status, step.status))
            if step.group_id:
                groups.add(step.group_id)
            assert ROOT_STEP_ID.fullmatch(step.native_id.split("__to__")[0]) or (
                step.native_id.startswith("group_")
            )
        for approval in execution.approvals:
            approvals[approval.status] += 1
            assert approval.reviewers
        if execution.is_terminal:
            assert execution.completed_at is not None
        if execution.status is ExecutionStatus.FAILED:
            assert execution.error is not None
    assert set(statuses) == {
        ExecutionStatus.PENDING,
        ExecutionStatus.RUNNING,
        ExecutionStatus.WAITING_FOR_APPROVAL,
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    }
    assert statuses[ExecutionStatus.WAITING_FOR_APPROVAL] >= 4
    assert set(approvals) == set(ApprovalStatus)
    assert groups == {"parallel-review"}
    assert {
        (StepKind.HUMAN_APPROVAL, "waiting", StepStatus.WAITING_FOR_APPROVAL),
        (StepKind.AGENT, "waiting", StepStatus.RUNNING),
        (StepKind.WEBHOOK, "waiting", StepStatus.RUNNING),
        (StepKind.HUMAN_APPROVAL, "breached", StepStatus.TIMED_OUT),
        (StepKind.AGENT, "skipped", StepStatus.SKIPPED),
        (StepKind.HUMAN_APPROVAL, "cancelled", StepStatus.CANCELLED),
        (StepKind.AGENT, "failed", StepStatus.FAILED),
        (StepKind.WEBHOOK, "failed", StepStatus.FAILED),
        (StepKind.NOTIFICATION, "completed", StepStatus.COMPLETED),
    } <= step_statuses
    assert sandbox.stats.calls["POST /v2/workflow/executions/get"] == len(sandbox.velt.executions)


def test_seeding_is_deterministic_with_unique_ids_and_start_times() -> None:
    def store(seed: int) -> VeltStore:
        return VeltStore(seed=seed, count=240, api_keys=(KEY,), auth_tokens=(TOKEN,))

    seven = store(7)
    assert seven.executions == store(7).executions
    assert list(seven.executions) != list(store(8).executions)
    assert len(seven.executions) == 240
    assert all(EXECUTION_ID.fullmatch(i) for i in seven.executions if i != DEMO_WAITING_ID)
    starts = [run["startedAt"] for run in seven.executions.values()]
    assert len(set(starts)) == len(starts)


async def test_doc_example_is_served_verbatim(make_adapter: AdapterFactory) -> None:
    execution = await make_adapter().get_execution(DOC_EXAMPLE_ID)
    fixture = json.loads((FIXTURES / "get_execution_doc_example.json").read_text())
    assert execution.raw == fixture["result"]
    assert execution.status is ExecutionStatus.COMPLETED
    assert [s.native_id for s in execution.steps] == ["group_parallel-review__to__agent-publish"]


async def test_demo_execution_waits_for_two_mandatory_reviewers(
    make_adapter: AdapterFactory,
) -> None:
    execution = await make_adapter().get_execution(DEMO_WAITING_ID)
    assert execution.status is ExecutionStatus.WAITING_FOR_APPROVAL
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.PENDING
    assert [(r.id, r.mandatory, r.decision) for r in approval.reviewers] == [
        (user, True, None) for user in DEMO_REVIEWERS
    ]
    assert approval.required_count == 2


# --- listing --------------------------------------------------------------------------------


async def test_paging_visits_every_execution_once(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    seen: list[Execution] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await adapter.list_executions(cursor=cursor, page_size=37)
        pages += 1
        assert page.complete is False
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    ids = [e.native_id for e in seen]
    assert len(ids) == len(set(ids)) == len(sandbox.velt.executions)
    assert set(ids) == set(sandbox.velt.executions)
    assert pages == 7
    assert ids[0] == DEMO_WAITING_ID
    starts = [e.started_at for e in seen]
    assert all(a is not None and b is not None and a > b for a, b in pairwise(starts))
    assert all(e.steps == () for e in seen)


async def test_status_filter_is_applied_upstream(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    page = await adapter.list_executions(cursor=None, page_size=500, status=ExecutionStatus.FAILED)
    failed = [i for i, run in sandbox.velt.executions.items() if run["status"] == "failed"]
    assert sorted(e.native_id for e in page.items) == sorted(failed)
    assert page.next_cursor is None
    waiting = await adapter.list_executions(
        cursor=None, page_size=500, status=ExecutionStatus.WAITING_FOR_APPROVAL
    )
    assert {e.upstream_status for e in waiting.items} == {"running"}
    assert DEMO_WAITING_ID in {e.native_id for e in waiting.items}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"pageSize": 0}, id="page-size-0"),
        pytest.param({"pageSize": 501}, id="page-size-501"),
        pytest.param({"pageSize": "10"}, id="page-size-text"),
        pytest.param({"status": "waiting"}, id="unknown-status"),
        pytest.param({"cursor": "abc"}, id="bad-cursor"),
    ],
)
async def test_bad_list_filters_are_invalid_arguments(
    raw: httpx.AsyncClient, data: dict[str, Any]
) -> None:
    response = await raw.post("/v2/workflow/executions/list", json={"data": data})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"executionId": "x"}', id="no-data-wrapper"),
        pytest.param(b'{"data": {}}', id="no-id"),
        pytest.param(b'{"data": {"executionId": 5}}', id="id-not-a-string"),
    ],
)
async def test_bad_bodies_are_invalid_arguments(raw: httpx.AsyncClient, body: bytes) -> None:
    response = await raw.post("/v2/workflow/executions/get", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


# --- auth and errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "auth_token", "error", "http_status", "upstream_code"),
    [
        pytest.param("ak_wrong", TOKEN, UpstreamAuthFailed, 403, "PERMISSION_DENIED", id="bad-key"),
        pytest.param(None, TOKEN, UpstreamAuthFailed, 403, "PERMISSION_DENIED", id="no-key"),
        pytest.param(KEY, None, UpstreamRejected, 400, "INVALID_ARGUMENT", id="no-token"),
        pytest.param(KEY, "at_wrong", UpstreamAuthFailed, 403, "PERMISSION_DENIED", id="bad-token"),
    ],
)
async def test_credentials_are_checked(
    make_adapter: AdapterFactory,
    api_key: str | None,
    auth_token: str | None,
    error: type[Exception],
    http_status: int,
    upstream_code: str,
) -> None:
    with pytest.raises(error) as caught:
        await make_adapter(api_key=api_key, auth_token=auth_token).get_execution(DOC_EXAMPLE_ID)
    assert isinstance(caught.value, UpstreamAuthFailed | UpstreamRejected)
    assert (caught.value.http_status, caught.value.upstream_code) == (http_status, upstream_code)


async def test_missing_token_says_so(raw: httpx.AsyncClient) -> None:
    response = await raw.post(
        "/v2/workflow/executions/get",
        json={"data": {"executionId": DOC_EXAMPLE_ID}},
        headers={"x-velt-auth-token": ""},
    )
    assert response.json() == {
        "error": {"message": "Auth token is required", "status": "INVALID_ARGUMENT"}
    }


async def test_unknown_execution_is_not_found(make_adapter: AdapterFactory) -> None:
    with pytest.raises(ExecutionNotFound) as caught:
        await make_adapter().get_execution("exec_0000000000000_missing0")
    assert (caught.value.http_status, caught.value.upstream_code) == (404, "NOT_FOUND")


# --- reviewer decisions ---------------------------------------------------------------------


async def test_two_reviewers_must_both_approve(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    execution = await adapter.get_execution(DEMO_WAITING_ID)
    (approval,) = execution.approvals
    lead, ops = DEMO_REVIEWERS

    first = await decide(adapter, execution, approval, Decision.APPROVE, lead, "LGTM")
    assert (first.approval_status, first.already_recorded) == (ApprovalStatus.PENDING, False)
    assert first.recorded_decision is Decision.APPROVE
    halfway = await adapter.get_execution(DEMO_WAITING_ID)
    assert halfway.status is ExecutionStatus.WAITING_FOR_APPROVAL
    (pending,) = halfway.approvals
    assert pending.status is ApprovalStatus.PENDING
    # One of two mandatory reviewers approved: the documented counts do not say which.
    assert [r.decision for r in pending.reviewers] == [None, None]
    assert (pending.approve_count, pending.required_count) == (1, 2)

    # Velt answers "idempotent"; the step still waits after lead's vote, so it was no rejection.
    again = await decide(adapter, halfway, pending, Decision.APPROVE, lead)
    assert (again.approval_status, again.already_recorded) == (ApprovalStatus.PENDING, True)
    assert (again.recorded_decision, again.matches_request) == (Decision.APPROVE, True)
    other_way = await decide(adapter, halfway, pending, Decision.REJECT, lead)
    assert (other_way.recorded_decision, other_way.matches_request) == (Decision.APPROVE, False)

    second = await decide(adapter, halfway, pending, Decision.APPROVE, ops, "Ship it")
    assert (second.approval_status, second.already_recorded) == (ApprovalStatus.APPROVED, False)
    done = await adapter.get_execution(DEMO_WAITING_ID)
    assert done.status is ExecutionStatus.COMPLETED
    assert done.completed_at is not None
    (approved,) = done.approvals
    assert approved.key == approval.key
    assert approved.status is ApprovalStatus.APPROVED
    assert [r.decision for r in approved.reviewers] == [ApprovalStatus.APPROVED] * 2
    assert (approved.decided_by, approved.notes) == (None, "Ship it")
    assert approved.decided_at is not None
    assert [s.name for s in done.steps] == [
        "agent-draft",
        "human-review",
        "agent-publish",
        "notify-team",
    ]
    assert all(s.status is StepStatus.COMPLETED for s in done.steps)
    assert done.steps[2].native_id == f"{approval.step_native_id}__to__agent-publish"

    late = await decide(adapter, done, approved, Decision.APPROVE, ops)
    assert late.already_recorded is True
    assert (late.recorded_decision, late.matches_request) == (Decision.APPROVE, True)
    # The same reviewer asking for the other decision is told what is on record.
    other = await decide(adapter, done, approved, Decision.REJECT, ops)
    assert other.already_recorded is True
    assert (other.recorded_decision, other.matches_request) == (Decision.APPROVE, False)


async def test_decision_replies_have_only_the_documented_fields(
    raw: httpx.AsyncClient,
) -> None:
    documented = {"recorded", "aggregatorStatus", "resumeScheduled", "rejectionReason"}
    step_id = next(
        s["stepId"]
        for s in (await raw.post(GET, json={"data": {"executionId": DEMO_WAITING_ID}})).json()[
            "result"
        ]["steps"]
        if s["nodeType"] == "human"
    )
    body = {"executionId": DEMO_WAITING_ID, "stepId": step_id, "decision": "approve"}
    replies = []
    for reviewer in (DEMO_REVIEWERS[0], DEMO_REVIEWERS[0], "eve@example.com", DEMO_REVIEWERS[1]):
        reply = await raw.post(DECIDE, json={"data": {**body, "reviewerId": reviewer}})
        replies.append(reply.json()["result"])
    assert all(set(r) <= documented for r in replies)
    assert [(r["recorded"], r.get("rejectionReason")) for r in replies] == [
        (True, None),
        (False, "idempotent"),
        (False, "unknown-responder"),
        (True, None),
    ]
    assert [r["resumeScheduled"] for r in replies] == [False, False, False, True]
    assert replies[-1]["aggregatorStatus"] == "resolved"
    view = (await raw.post(GET, json={"data": {"executionId": DEMO_WAITING_ID}})).json()
    human = next(s for s in view["result"]["steps"] if s["nodeType"] == "human")
    assert set(human["output"]) <= DOCUMENTED_HUMAN_OUTPUT


def _adapter_on(store: VeltStore) -> VeltAdapter:
    """A VeltAdapter on a sandbox whose Velt store plays ``store``'s documented variant."""
    sandbox = Sandbox()
    sandbox.velt = store
    adapter = VeltAdapter.create(
        name="velt",
        base_url="http://sandbox",
        credentials=Credentials(api_key=KEY, auth_token=TOKEN),
        settings=HTTPSettings(),
        transport=httpx.ASGITransport(app=sandbox.app()),
    )
    assert isinstance(adapter, VeltAdapter)
    return adapter


async def test_a_settled_step_is_decided_while_it_still_reads_waiting() -> None:
    store = VeltStore(seed=7, count=40, api_keys=(KEY,), auth_tokens=(TOKEN,), resume_after_reads=1)
    adapter = _adapter_on(store)
    try:
        execution = await adapter.get_execution(DEMO_WAITING_ID)
        (approval,) = execution.approvals
        for reviewer in DEMO_REVIEWERS:
            await decide(adapter, execution, approval, Decision.APPROVE, reviewer)
        resuming = await adapter.get_execution(DEMO_WAITING_ID)
        human = next(s for s in resuming.steps if s.kind is StepKind.HUMAN_APPROVAL)
        assert human.upstream_status == "waiting"
        assert human.status is StepStatus.RUNNING
        assert resuming.status is ExecutionStatus.RUNNING
        (decided,) = resuming.approvals
        assert decided.status is ApprovalStatus.APPROVED
        with pytest.raises(UpstreamConflict) as caught:
            await decide(adapter, resuming, decided, Decision.REJECT, "eve@example.com")
        assert caught.value.upstream_code == "already-terminal"
        resumed = await adapter.get_execution(DEMO_WAITING_ID)
    finally:
        await adapter.aclose()
    assert resumed.status is ExecutionStatus.COMPLETED
    assert resumed.approvals[0].status is ApprovalStatus.APPROVED


async def test_an_empty_waiting_output_still_takes_votes() -> None:
    store = VeltStore(
        seed=7, count=40, api_keys=(KEY,), auth_tokens=(TOKEN,), waiting_output="empty"
    )
    adapter = _adapter_on(store)
    try:
        execution = await adapter.get_execution(DEMO_WAITING_ID)
        (approval,) = execution.approvals
        assert (approval.status, approval.reviewers) == (ApprovalStatus.PENDING, ())
        outcome = await decide(adapter, execution, approval, Decision.REJECT, DEMO_REVIEWERS[1])
        assert outcome.approval_status is ApprovalStatus.REJECTED
        done = await adapter.get_execution(DEMO_WAITING_ID)
    finally:
        await adapter.aclose()
    (rejected,) = done.approvals
    assert rejected.status is ApprovalStatus.REJECTED
    assert rejected.decided_by == DEMO_REVIEWERS[1]
    assert len(rejected.reviewers) == 2


async def test_a_single_rejection_settles_the_step(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    native_id = next(
        i
        for i, run in sandbox.velt.executions.items()
        if any(s["nodeId"] == "human-finance" and s["status"] == "waiting" for s in run["steps"])
    )
    execution = await adapter.get_execution(native_id)
    (approval,) = execution.approvals
    (reviewer,) = approval.reviewers
    outcome = await decide(
        adapter, execution, approval, Decision.REJECT, reviewer.id, "Over budget"
    )
    assert outcome.approval_status is ApprovalStatus.REJECTED
    done = await adapter.get_execution(native_id)
    assert done.status is ExecutionStatus.COMPLETED
    human = next(s for s in done.steps if s.kind is StepKind.HUMAN_APPROVAL)
    assert human.status is StepStatus.COMPLETED
    (rejected,) = done.approvals
    assert rejected.status is ApprovalStatus.REJECTED
    assert (rejected.decided_by, rejected.notes) == (reviewer.id, "Over budget")
    assert done.steps[-1].name == "notify-author"


async def test_parallel_group_moves_on_when_both_steps_are_decided(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    native_id = next(
        i
        for i, run in sandbox.velt.executions.items()
        if run["status"] == "running"
        and sum(s["groupId"] == "parallel-review" for s in run["steps"]) == 2
    )
    execution = await adapter.get_execution(native_id)
    legal, brand = execution.approvals
    await decide(adapter, execution, legal, Decision.APPROVE, legal.reviewers[0].id)
    halfway = await adapter.get_execution(native_id)
    assert halfway.status is ExecutionStatus.WAITING_FOR_APPROVAL
    assert [a.status for a in halfway.approvals] == [
        ApprovalStatus.APPROVED,
        ApprovalStatus.PENDING,
    ]
    await decide(adapter, halfway, brand, Decision.APPROVE, brand.reviewers[0].id)
    done = await adapter.get_execution(native_id)
    assert done.status is ExecutionStatus.COMPLETED
    assert "group_parallel-review__to__agent-publish" in [s.native_id for s in done.steps]


async def test_unknown_reviewer_is_forbidden_and_changes_nothing(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    execution = await adapter.get_execution(DEMO_WAITING_ID)
    before = sandbox.velt.executions[DEMO_WAITING_ID]["steps"][1]["output"]["approveCount"]
    with pytest.raises(UpstreamForbidden) as caught:
        await decide(
            adapter, execution, execution.approvals[0], Decision.APPROVE, "eve@example.com"
        )
    assert caught.value.upstream_code == "unknown-responder"
    after = await adapter.get_execution(DEMO_WAITING_ID)
    assert after.status is ExecutionStatus.WAITING_FOR_APPROVAL
    assert sandbox.velt.executions[DEMO_WAITING_ID]["steps"][1]["output"]["approveCount"] == before


async def test_decision_on_a_decided_step_is_a_conflict(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    native_id = next(
        i
        for i, run in sandbox.velt.executions.items()
        if run["status"] == "completed"
        and any(s["output"].get("decision") == "reject" for s in run["steps"])
    )
    execution = await adapter.get_execution(native_id)
    (rejected,) = execution.approvals
    with pytest.raises(UpstreamConflict) as caught:
        await decide(adapter, execution, rejected, Decision.REJECT, "eve@example.com")
    assert caught.value.upstream_code == "already-terminal"
    # The reviewer whose vote is on record gets the benign answer, and what is on record.
    assert rejected.decided_by is not None
    replay = await decide(adapter, execution, rejected, Decision.APPROVE, rejected.decided_by)
    assert (replay.approval_status, replay.already_recorded) == (ApprovalStatus.REJECTED, True)
    assert (replay.recorded_decision, replay.matches_request) == (Decision.REJECT, False)


async def test_decision_on_a_step_that_does_not_wait_is_a_failed_precondition(
    sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    native_id = next(
        i
        for i, run in sandbox.velt.executions.items()
        if run["status"] == "running" and run["steps"][-1]["status"] == "running"
    )
    execution = await adapter.get_execution(native_id)
    running = execution.steps[-1]
    not_an_approval = Approval(
        key=running.native_id, status=ApprovalStatus.PENDING, step_native_id=running.native_id
    )
    with pytest.raises(UpstreamConflict) as caught:
        await decide(adapter, execution, not_an_approval, Decision.APPROVE, "lead@example.com")
    assert (caught.value.http_status, caught.value.upstream_code) == (400, "FAILED_PRECONDITION")


async def test_decision_on_an_unknown_step_is_not_found(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    execution = await adapter.get_execution(DEMO_WAITING_ID)
    ghost = Approval(key="step_ghost", status=ApprovalStatus.PENDING, step_native_id="step_ghost")
    with pytest.raises(ExecutionNotFound):
        await decide(adapter, execution, ghost, Decision.APPROVE, "lead@example.com")


def test_seeded_human_outputs_have_only_documented_fields(sandbox: Sandbox) -> None:
    outputs = [
        step["output"]
        for run in sandbox.velt.executions.values()
        for step in run["steps"]
        if step["nodeType"] == "human"
    ]
    assert outputs
    assert all(set(output) <= DOCUMENTED_HUMAN_OUTPUT for output in outputs)
    assert all("decision" not in r for o in outputs for r in o.get("reviewers", []))
