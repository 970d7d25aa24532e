"""The decision rules' words and inputs (gateway/core/decision_rules.py): what each refusal says
(the inbox shows it, the mutation answers with it), which run a scope and four-eyes look at, and
that four-eyes asks nothing while it is off. Written for issue #35, beside
``test_decision_rules.py``'s order of the rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from adapters.model import (
    Approval,
    ApprovalStatus,
    Execution,
    ExecutionStatus,
    Reviewer,
    Workflow,
)
from gateway.core import decision_rules
from gateway.core.caller import Caller
from gateway.core.decision_rules import Denial, Permission, verdict
from gateway.core.runtime import Runtime
from gateway.core.scope import ClientScope
from gateway.state.base import StateUnavailable
from tests.serving import demo_config_with

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

OPS = Caller("ops", frozenset({"approver"}), "ops@example.com")
RUNNING = Execution(
    "e1", ExecutionStatus.WAITING_FOR_APPROVAL, "waiting", {}, workflow=Workflow("wf_refunds")
)
REVIEWERS = (
    Reviewer("ops@example.com", mandatory=True),
    Reviewer("lead@example.com", mandatory=True, decision=ApprovalStatus.APPROVED),
)
WAITING = Approval("k", ApprovalStatus.PENDING, reviewers=REVIEWERS)


@pytest.mark.parametrize(
    ("caller", "execution", "approval", "in_scope", "expected"),
    [
        (
            Caller("ui", frozenset({"viewer"})),
            RUNNING,
            WAITING,
            True,
            Permission(Denial.LACKS_ROLE, "this client lacks the approver role"),
        ),
        (OPS, RUNNING, WAITING, False, Permission(Denial.OUT_OF_SCOPE, "no such approval")),
        (
            OPS,
            RUNNING,
            Approval("k", ApprovalStatus.REJECTED),
            True,
            Permission(Denial.NOT_WAITING, "the approval was already decided (REJECTED)"),
        ),
        (
            OPS,
            Execution("e1", ExecutionStatus.TIMED_OUT, "timed_out", {}),
            WAITING,
            True,
            Permission(Denial.NOT_WAITING, "the execution has ended (TIMED_OUT)"),
        ),
        (
            Caller("x", OPS.roles, "x@example.com"),
            RUNNING,
            WAITING,
            True,
            Permission(
                Denial.NOT_A_REVIEWER,
                "reviewer 'x@example.com' is not one of the approval's declared reviewers",
            ),
        ),
        (
            Caller("x", OPS.roles, ""),
            RUNNING,
            WAITING,
            True,
            Permission(
                Denial.NOT_A_REVIEWER,
                "this client is not one of the approval's declared reviewers",
            ),
        ),
        (
            Caller("lead", OPS.roles, "lead@example.com"),
            RUNNING,
            WAITING,
            True,
            Permission(
                Denial.ALREADY_VOTED,
                "reviewer 'lead@example.com' already recorded approved on this approval",
                recorded=ApprovalStatus.APPROVED,
            ),
        ),
    ],
)
def test_each_refusal_says_why(
    caller: Caller,
    execution: Execution,
    approval: Approval,
    in_scope: bool,
    expected: Permission,
) -> None:
    assert verdict(caller, execution, approval, in_scope=in_scope) == expected
    if expected.denial is Denial.LACKS_ROLE:
        assert decision_rules.check_role(caller) == expected


class StartedBy:
    """The four-eyes lookup: who started which run, and the runs it was asked about."""

    def __init__(self, starter: str | None = None, *, away: bool = False) -> None:
        self.starter = starter
        self.away = away
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, source: str, native_id: str) -> str | None:
        self.asked.append((source, native_id))
        if self.away:
            raise StateUnavailable("redis is away")
        return self.starter


@pytest.fixture
async def four_eyes(sandbox_url: str) -> AsyncIterator[Runtime]:
    built = Runtime(demo_config_with(sandbox_url, auth={"four_eyes": True}))
    await built.start()
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def two_eyes(sandbox_url: str) -> AsyncIterator[Runtime]:
    built = Runtime(demo_config_with(sandbox_url))
    await built.start()
    try:
        yield built
    finally:
        await built.aclose()


async def test_four_eyes_asks_about_this_run_and_says_why_it_refuses(four_eyes: Runtime) -> None:
    mine = StartedBy("ops")
    refused = await decision_rules.permission(
        four_eyes, OPS, "rv", RUNNING, WAITING, started_by=mine
    )
    assert refused == Permission(
        Denial.FOUR_EYES, "four-eyes: this client started the run, so another must decide it"
    )
    assert mine.asked == [("rv", "e1")]
    away = StartedBy(away=True)
    unknown = await decision_rules.permission(
        four_eyes, OPS, "velt", RUNNING, WAITING, started_by=away
    )
    assert unknown == Permission(
        Denial.FOUR_EYES,
        "four-eyes: the shared state cannot say who started this run, so nobody may decide it "
        "now; try again shortly",
    )
    assert away.asked == [("velt", "e1")]


async def test_four_eyes_reads_the_run_control_record_by_default(four_eyes: Runtime) -> None:
    await four_eyes.run_control.record_starter("rv", "e1", "ops")
    refused = await decision_rules.permission(four_eyes, OPS, "rv", RUNNING, WAITING)
    assert refused.denial is Denial.FOUR_EYES
    assert (await decision_rules.permission(four_eyes, OPS, "velt", RUNNING, WAITING)).allowed


async def test_four_eyes_asks_nothing_while_off_or_once_another_rule_refuses(
    two_eyes: Runtime, four_eyes: Runtime
) -> None:
    mine = StartedBy("ops")
    allowed = await decision_rules.permission(
        two_eyes, OPS, "rv", RUNNING, WAITING, started_by=mine
    )
    assert allowed == decision_rules.ALLOWED
    stranger = Caller("x", OPS.roles, "x@example.com")
    refused = await decision_rules.permission(
        four_eyes, stranger, "rv", RUNNING, WAITING, started_by=mine
    )
    assert refused.denial is Denial.NOT_A_REVIEWER
    assert mine.asked == []


@pytest.mark.parametrize(
    ("sources", "source", "allowed"),
    [
        ({"rv": "*"}, "rv", True),
        ({"rv": ["wf_refunds"]}, "rv", True),
        ({"rv": ["wf_other"]}, "rv", False),
        ({"velt": ["wf_refunds"]}, "rv", False),
        ({"velt": ["wf_refunds"]}, "velt", True),
    ],
)
async def test_the_scope_is_read_for_this_source_and_this_runs_workflow(
    two_eyes: Runtime, sources: dict[str, str | list[str]], source: str, allowed: bool
) -> None:
    scoped = Caller("ops", OPS.roles, "ops@example.com", scope=ClientScope.of(sources))
    found = await decision_rules.permission(two_eyes, scoped, source, RUNNING, WAITING)
    assert found.allowed is allowed
    assert found.denial is (None if allowed else Denial.OUT_OF_SCOPE)
