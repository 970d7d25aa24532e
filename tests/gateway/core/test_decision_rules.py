"""The decision rules (gateway/core/decision_rules.py): each reason, in order, and the cases the
HTTP tests cannot reach (out of scope is absent to a read; the shared state away)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from adapters.base import Decision
from adapters.model import Approval, ApprovalStatus, Execution, ExecutionStatus, Reviewer
from gateway.core import deciding, decision_rules, ids
from gateway.core.caller import Caller
from gateway.core.decision_rules import Denial, verdict
from gateway.core.loaders import Loaders
from gateway.core.runtime import Runtime
from gateway.state.base import StateUnavailable
from sandbox import Sandbox, SandboxConfig, velt
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

OPS = Caller("ops", frozenset({"viewer", "approver"}), "ops@example.com")
RUNNING = Execution("e1", ExecutionStatus.WAITING_FOR_APPROVAL, "waiting", {})
REVIEWERS = (
    Reviewer("ops@example.com", mandatory=True),
    Reviewer("lead@example.com", mandatory=True, decision=ApprovalStatus.APPROVED),
)
WAITING = Approval("k", ApprovalStatus.PENDING, reviewers=REVIEWERS)


@pytest.mark.parametrize(
    ("caller", "execution", "approval", "in_scope", "denial"),
    [
        (OPS, RUNNING, WAITING, True, None),
        (
            Caller("ui", frozenset({"viewer"}), "ops@example.com"),
            RUNNING,
            WAITING,
            False,
            Denial.LACKS_ROLE,
        ),
        (OPS, RUNNING, WAITING, False, Denial.OUT_OF_SCOPE),
        (OPS, RUNNING, Approval("k", ApprovalStatus.APPROVED), True, Denial.NOT_WAITING),
        (
            OPS,
            Execution("e1", ExecutionStatus.CANCELLED, "cancelled", {}),
            WAITING,
            True,
            Denial.NOT_WAITING,
        ),
        (Caller("x", OPS.roles, "x@example.com"), RUNNING, WAITING, True, Denial.NOT_A_REVIEWER),
        (Caller("x", OPS.roles, None), RUNNING, WAITING, True, Denial.NOT_A_REVIEWER),
        (
            Caller("lead", OPS.roles, "lead@example.com"),
            RUNNING,
            WAITING,
            True,
            Denial.ALREADY_VOTED,
        ),
        # No declared reviewers: left to the upstream.
        (Caller("x", OPS.roles, None), RUNNING, Approval("k", ApprovalStatus.PENDING), True, None),
    ],
)
def test_the_first_rule_that_refuses_is_the_reason(
    caller: Caller, execution: Execution, approval: Approval, in_scope: bool, denial: Denial | None
) -> None:
    found = verdict(caller, execution, approval, in_scope=in_scope)
    assert found.denial is denial
    assert found.allowed is (denial is None)
    assert (found.message is None) is (denial is None)


def test_an_already_voted_answer_names_the_vote_on_record() -> None:
    lead = Caller("lead", OPS.roles, "lead@example.com")
    assert verdict(lead, RUNNING, WAITING, in_scope=True).recorded is ApprovalStatus.APPROVED


def test_assigned_to_is_a_declared_reviewer_who_has_not_voted() -> None:
    assert decision_rules.assigned_to("ops@example.com", WAITING)
    assert not decision_rules.assigned_to("lead@example.com", WAITING)
    assert not decision_rules.assigned_to("x@example.com", WAITING)
    decided = Approval("k", ApprovalStatus.REJECTED, reviewers=REVIEWERS)
    assert not decision_rules.assigned_to("ops@example.com", decided)


@pytest.fixture
async def runtime(sandbox_url: str) -> AsyncIterator[Runtime]:
    built = Runtime(demo_config_with(sandbox_url, auth={"four_eyes": True}))
    await built.start()
    try:
        yield built
    finally:
        await built.aclose()


async def test_four_eyes_refuses_the_starter_and_anyone_while_it_cannot_tell(
    runtime: Runtime,
) -> None:
    async def started_by_ops(source: str, native_id: str) -> str | None:
        return "ops"

    async def away(source: str, native_id: str) -> str | None:
        raise StateUnavailable("redis is away")

    async def nobody(source: str, native_id: str) -> str | None:
        return None

    lead = Caller("lead", OPS.roles, "ops@example.com")
    ask = decision_rules.permission
    mine = await ask(runtime, OPS, "rv", RUNNING, WAITING, started_by=started_by_ops)
    assert mine.denial is Denial.FOUR_EYES
    assert (await ask(runtime, lead, "rv", RUNNING, WAITING, started_by=started_by_ops)).allowed
    unknown = await ask(runtime, lead, "rv", RUNNING, WAITING, started_by=away)
    assert unknown.denial is Denial.FOUR_EYES
    assert (await ask(runtime, OPS, "rv", RUNNING, WAITING, started_by=nobody)).allowed


async def test_the_run_control_record_names_the_starter(runtime: Runtime) -> None:
    await runtime.run_control.record_starter("velt", "exec_1", "ops")
    assert await runtime.run_control.started_by("velt", "exec_1") == "ops"
    assert await runtime.run_control.started_by("velt", "exec_2") is None


async def test_a_reviewer_the_upstream_does_not_know_is_still_forbidden_by_the_upstream() -> None:
    """Where the waiting step shows no reviewers (``waiting_output="empty"``, which Velt's
    documents allow), the gateway cannot tell and sends: Velt refuses, typed and audited."""
    sandbox = Sandbox(SandboxConfig(executions_per_source=5, velt_waiting_output="empty"))
    async with serving(sandbox.app(), lifespan="off") as url:
        runtime = Runtime(demo_config_with(url))
        await runtime.start()
        try:
            loaders = Loaders(runtime.store, runtime.stats)
            execution = await loaders.execution("velt", velt.DEMO_WAITING_ID)
            (approval,) = execution.approvals
            assert approval.reviewers == ()
            approval_id = ids.approval_id("velt", velt.DEMO_WAITING_ID, approval.key)
            stranger = Caller("x", frozenset({"approver"}), "stranger@example.com")
            request = deciding.DecisionRequest(approval_id, Decision.APPROVE, None, stranger, "r")
            result = await deciding.decide_approval(runtime, loaders, request)
        finally:
            await runtime.aclose()
    assert isinstance(result, deciding.Forbidden)
    assert result.upstream is not None
    assert result.denial is None
    assert sandbox.stats.calls["POST /v2/workflow/steps/recordReviewerDecision"] == 1
