"""The decision use case (gateway/core/deciding.py), without GraphQL, against the sandbox over HTTP.

Each test builds the real runtime in front of the sandbox on loopback and reads the audit file it
writes: every attempt, refused or not, is exactly one record.
"""

from __future__ import annotations

import json
from itertools import count
from typing import TYPE_CHECKING, Any

import pytest

from adapters.base import Decision
from adapters.model import ApprovalStatus, ExecutionStatus
from gateway.core import deciding, ids
from gateway.core.caller import Caller
from gateway.core.decision_rules import Denial
from gateway.core.loaders import Loaders
from gateway.core.runtime import Runtime
from sandbox import nesting, rotavision, velt
from tests.serving import demo_config_with

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sandbox import Sandbox

APPROVE_POST = "POST /v1/orchestrate/executions/{execution_id}/approve"
VELT_DECIDE = "POST /v2/workflow/steps/recordReviewerDecision"
OPS = Caller("ops", frozenset({"viewer", "approver"}), "ops@example.com")
LEAD = Caller("lead", frozenset({"viewer", "approver"}), "lead@example.com")


class Deciding:
    """The runtime, one request's loaders per attempt, and the audit file's records."""

    def __init__(self, runtime: Runtime, audit_file: Path) -> None:
        self.runtime = runtime
        self.audit_file = audit_file
        self.ticks = count()

    def clock(self) -> float:
        """A quarter second per reading: every attempt takes exactly 250 ms."""
        return next(self.ticks) * 0.25

    async def decide(
        self,
        approval_id: str,
        decision: Decision = Decision.APPROVE,
        *,
        caller: Caller = OPS,
        notes: str | None = None,
    ) -> deciding.Result:
        request = deciding.DecisionRequest(approval_id, decision, notes, caller, "req-1")
        loaders = Loaders(self.runtime.store, self.runtime.stats)
        return await deciding.decide_approval(self.runtime, loaders, request, clock=self.clock)

    async def pending_id(self, source: str, native_id: str) -> str:
        loaders = Loaders(self.runtime.store, self.runtime.stats)
        execution = await loaders.execution(source, native_id)
        (approval,) = [a for a in execution.approvals if a.status is ApprovalStatus.PENDING]
        return ids.approval_id(source, native_id, approval.key)

    def records(self) -> list[dict[str, Any]]:
        lines = self.audit_file.read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture
async def use_case(sandbox_url: str, tmp_path: Path) -> AsyncIterator[Deciding]:
    audit_file = tmp_path / "audit.jsonl"
    config = demo_config_with(
        sandbox_url, audit={"file": str(audit_file)}, sources={"rv": {"retries": 0}}
    )
    runtime = Runtime(config)
    await runtime.start()
    try:
        yield Deciding(runtime, audit_file)
    finally:
        await runtime.aclose()


async def test_an_approval_is_decided_once_and_shown_as_re_read(
    use_case: Deciding, sandbox: Sandbox
) -> None:
    approval_id = await use_case.pending_id("rv", rotavision.DEMO_WAITING_ID)
    result = await use_case.decide(approval_id, notes="looks right")
    assert isinstance(result, deciding.Decided)
    assert ids.approval_id("rv", result.execution.native_id, result.approval.key) == approval_id
    assert result.approval.status is ApprovalStatus.APPROVED
    assert result.approval.notes == "looks right"
    assert result.execution.status is ExecutionStatus.COMPLETED
    assert sandbox.stats.calls[APPROVE_POST] == 1
    assert use_case.records() == [
        {
            "event": "decision",
            "caller": "ops",
            "reviewer": "ops@example.com",
            "approval": approval_id,
            "decision": "APPROVE",
            "request_id": "req-1",
            "outcome": "decided",
            "source": "rv",
            "approval_status": "APPROVED",
            "duration_ms": 250.0,
        }
    ]


async def test_deciding_again_is_not_waiting_with_the_current_approval(
    use_case: Deciding, sandbox: Sandbox
) -> None:
    approval_id = await use_case.pending_id("rv", rotavision.DEMO_WAITING_ID)
    assert isinstance(await use_case.decide(approval_id, Decision.REJECT), deciding.Decided)
    again = await use_case.decide(approval_id)
    assert isinstance(again, deciding.NotWaiting)
    assert again.approval is not None
    assert again.approval.status is ApprovalStatus.REJECTED
    assert again.message == "the approval was already decided (REJECTED)"
    assert sandbox.stats.calls[APPROVE_POST] == 1
    assert [r["outcome"] for r in use_case.records()] == ["decided", "not_waiting"]


async def test_a_velt_vote_that_needs_another_reviewer_stays_pending(
    use_case: Deciding, sandbox: Sandbox
) -> None:
    approval_id = await use_case.pending_id("velt", velt.DEMO_WAITING_ID)
    first = await use_case.decide(approval_id, caller=LEAD, notes="fine by me")
    assert isinstance(first, deciding.Decided)
    assert first.approval.status is ApprovalStatus.PENDING
    # Velt's documented step output gives totals, not who voted what, while two can still vote.
    votes = {r.id: r.decision for r in first.approval.reviewers}
    assert votes == {"lead@example.com": None, "ops@example.com": None}
    assert first.approval.approve_count == 1
    # Other notes: sent again, Velt answers "idempotent". The step still waits after LEAD's vote
    # and any rejection would have settled it, so LEAD approved: the same decision.
    repeat = await use_case.decide(approval_id, caller=LEAD, notes="again")
    assert isinstance(repeat, deciding.AlreadyRecorded)
    assert repeat.approval.status is ApprovalStatus.PENDING
    turned = await use_case.decide(approval_id, Decision.REJECT, caller=LEAD)
    assert isinstance(turned, deciding.RecordedOtherwise)
    assert (turned.recorded, turned.requested) == (Decision.APPROVE, Decision.REJECT)
    assert turned.message == (
        "this reviewer already recorded approve on this approval; the reject was not recorded"
    )
    second = await use_case.decide(approval_id, caller=OPS)
    assert isinstance(second, deciding.Decided)
    assert second.approval.status is ApprovalStatus.APPROVED
    outcomes = [(r["outcome"], r["approval_status"]) for r in use_case.records()]
    assert outcomes == [
        ("vote_recorded", "PENDING"),
        ("already_recorded", "PENDING"),
        ("recorded_otherwise", "PENDING"),
        ("decided", "APPROVED"),
    ]
    assert sandbox.stats.calls[VELT_DECIDE] == 4


async def test_identical_late_velt_decisions_through_two_replicas_are_already_recorded(
    use_case: Deciding, sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """A second replica without shared state (or one restarted) has no memory of the vote: its
    identical decisions reach Velt, which answers "idempotent", and still read as success."""
    other_audit = tmp_path / "other-audit.jsonl"
    config = demo_config_with(sandbox_url, audit={"file": str(other_audit)})
    other = Runtime(config)
    await other.start()
    try:
        replicas = [use_case, Deciding(other, other_audit)]
        approval_id = await use_case.pending_id("velt", velt.DEMO_WAITING_ID)
        first = await use_case.decide(approval_id, caller=LEAD, notes="fine")
        assert isinstance(first, deciding.Decided)
        late = [
            await replicas[n % 2].decide(approval_id, caller=LEAD, notes="fine") for n in range(40)
        ]
        assert {type(r) for r in late} == {deciding.AlreadyRecorded}
        turned = await replicas[1].decide(approval_id, Decision.REJECT, caller=LEAD)
        assert isinstance(turned, deciding.RecordedOtherwise)
        assert turned.recorded is Decision.APPROVE
    finally:
        await other.aclose()
    # The vote, the second replica's one ask (its answer is kept), and the other decision's ask.
    assert sandbox.stats.calls[VELT_DECIDE] == 3
    outcomes = [r["outcome"] for r in use_case.records() + replicas[1].records()]
    assert outcomes.count("already_recorded") == 40


async def test_a_reviewer_the_approval_does_not_declare_is_forbidden_without_a_call(
    use_case: Deciding, sandbox: Sandbox
) -> None:
    """The gateway's own rule (gateway/core/decision_rules.py); the upstream's refusal of a
    reviewer it does not know is tests/gateway/core/test_decision_rules.py's."""
    approval_id = await use_case.pending_id("velt", velt.DEMO_WAITING_ID)
    stranger = Caller("x", frozenset({"approver"}), "stranger@example.com")
    result = await use_case.decide(approval_id, caller=stranger)
    assert isinstance(result, deciding.Forbidden)
    assert result.source == "velt"
    assert result.denial is Denial.NOT_A_REVIEWER
    assert "stranger@example.com" in result.message
    (record,) = use_case.records()
    assert (record["outcome"], record["source"]) == ("forbidden", "velt")
    assert record["denial"] == "NOT_A_REVIEWER"
    assert sandbox.stats.calls[VELT_DECIDE] == 0


async def test_an_upstream_failure_is_typed_and_leaves_the_approval_pending(
    use_case: Deciding, sandbox: Sandbox
) -> None:
    approval_id = await use_case.pending_id("rv", rotavision.DEMO_WAITING_ID)
    sandbox.faults.update({"fail_rate": 1.0, "only": "/approve"})
    result = await use_case.decide(approval_id)
    assert isinstance(result, deciding.UpstreamFailed)
    assert (result.source, result.error.code, result.error.http_status) == (
        "rv",
        "UPSTREAM_UNAVAILABLE",
        503,
    )
    (record,) = use_case.records()
    assert (record["outcome"], record["upstream_status"]) == ("upstream_failed", 503)
    sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    assert await use_case.pending_id("rv", rotavision.DEMO_WAITING_ID) == approval_id


@pytest.mark.parametrize(
    ("caller", "approval_id", "notes", "expected"),
    [
        pytest.param(
            Caller("ui", frozenset({"viewer"})),
            ids.approval_id("rv", rotavision.DEMO_WAITING_ID, ""),
            None,
            deciding.Forbidden("client 'ui' lacks the approver role", denial=Denial.LACKS_ROLE),
            id="no-approver-role",
        ),
        pytest.param(
            OPS,
            ids.approval_id("rv", rotavision.DEMO_WAITING_ID, ""),
            "x" * 2001,
            deciding.InvalidInput("notes", "notes: at most 2000 characters, got 2001"),
            id="long-notes",
        ),
        pytest.param(
            OPS,
            f"rv:{rotavision.DEMO_WAITING_ID}",
            None,
            deciding.InvalidInput(
                "approvalId", "approvalId: expected an approval id (Approval.id)"
            ),
            id="execution-id",
        ),
        pytest.param(
            OPS,
            ids.approval_id("nope", "x1", ""),
            None,
            deciding.InvalidInput("approvalId", "approvalId: unknown source 'nope'", "nope"),
            id="unknown-source",
        ),
        pytest.param(
            OPS,
            ids.approval_id("zaia", nesting.DEMO_TREE_ID, ""),
            None,
            deciding.Unsupported("zaia", "source 'zaia' (nesting) has no approvals"),
            id="no-approvals",
        ),
    ],
)
async def test_what_the_gateway_refuses_itself_costs_no_upstream_call(
    use_case: Deciding,
    sandbox: Sandbox,
    caller: Caller,
    approval_id: str,
    notes: str | None,
    expected: deciding.Result,
) -> None:
    assert await use_case.decide(approval_id, caller=caller, notes=notes) == expected
    assert sandbox.stats.total == 0
    (record,) = use_case.records()
    assert record["outcome"] == deciding.audit_fields(expected)["outcome"]


async def test_a_malformed_id_is_invalid_input_and_audited_shortened(use_case: Deciding) -> None:
    result = await use_case.decide("%" * 500)
    assert isinstance(result, deciding.InvalidInput)
    assert result.field == "approvalId"
    (record,) = use_case.records()
    assert record["approval"] == "%" * 200
    assert "source" not in record


async def test_an_approval_key_the_execution_lacks_is_not_found(
    use_case: Deciding, sandbox: Sandbox
) -> None:
    result = await use_case.decide(ids.approval_id("rv", rotavision.DEMO_WAITING_ID, "nobody"))
    assert result == deciding.NotFound("rv")
    assert APPROVE_POST not in sandbox.stats.calls
    gone = await use_case.decide(ids.approval_id("rv", "exec_gone", ""))
    assert gone == deciding.NotFound("rv")
    assert [r["outcome"] for r in use_case.records()] == ["not_found", "not_found"]


def test_an_idempotent_reply_for_the_other_decision_is_not_a_success() -> None:
    from adapters.base import Decision, DecisionOutcome
    from adapters.model import Approval, Execution, ExecutionStatus

    execution = Execution(
        native_id="e", status=ExecutionStatus.RUNNING, upstream_status=None, raw={}
    )
    approval = Approval(key="k", status=ApprovalStatus.PENDING)
    other = DecisionOutcome(
        approval_status=None,
        already_recorded=True,
        requested=Decision.APPROVE,
        recorded_decision=Decision.REJECT,
    )
    same = DecisionOutcome(
        approval_status=None,
        already_recorded=True,
        requested=Decision.APPROVE,
        recorded_decision=Decision.APPROVE,
    )
    assert other.matches_request is False
    assert same.matches_request is True
    result = deciding.RecordedOtherwise(
        "velt", execution, approval, Decision.APPROVE, Decision.REJECT
    )
    assert result.message == (
        "this reviewer already recorded reject on this approval; the approve was not recorded"
    )
    fields = deciding.audit_fields(result)
    assert fields["outcome"] == "recorded_otherwise"
    assert fields["recorded_decision"] == Decision.REJECT.value
