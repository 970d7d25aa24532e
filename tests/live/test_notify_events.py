"""What a change means for notifications (gateway/live/notify_events.py): which events, their ids
and their bodies, against the real shared states (memory with a clock the test moves, and a Redis
that cannot be reached). Written for issue #35; ``test_notifications.py`` delivers these events to a
real receiver, signed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from adapters.model import (
    Approval,
    ApprovalStatus,
    ErrorInfo,
    Execution,
    ExecutionStatus,
    Workflow,
)
from gateway.core import ids
from gateway.live.notify_events import Change, Event, events_of, slack_text, standard_body
from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState

ASKED = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
DECIDED = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
PENDING = Approval("step_1", ApprovalStatus.PENDING, requested_at=ASKED)
APPROVED = Approval("step_1", ApprovalStatus.APPROVED, requested_at=ASKED, decided_at=DECIDED)
TTL_S = 60.0


def run(
    status: ExecutionStatus,
    *approvals: Approval,
    native_id: str = "exec_1",
    error: ErrorInfo | None = None,
    workflow: Workflow | None = None,
) -> Execution:
    return Execution(
        native_id,
        status,
        status.value.lower(),
        {},
        approvals=approvals,
        error=error,
        workflow=workflow,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def told(
    state: MemoryState | RedisState,
    now: Execution,
    before: Execution | None,
    *,
    announce: bool = True,
    source: str = "velt",
) -> list[tuple[str, str | None]]:
    """The events' types, each with its approval's key (None for an execution's event)."""
    events = await events_of(Change(source, now, before, announce, 5.0), state, TTL_S)
    return [(e.type, e.approval.key if e.approval else None) for e in events]


# --- which events ------------------------------------------------------------------------------


async def test_a_newly_pending_approval_is_requested_once_and_its_resolution_told() -> None:
    state = MemoryState()
    waiting = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
    decided = run(ExecutionStatus.RUNNING, APPROVED)
    assert await told(state, waiting, None) == [("approval.requested", "step_1")]
    assert await told(state, waiting, waiting) == []
    assert await told(state, decided, None) == [("approval.resolved", "step_1")]


async def test_an_approval_already_pending_before_is_not_news_and_not_marked() -> None:
    state = MemoryState()
    waiting = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
    assert await told(state, waiting, waiting) == []
    # Never marked here (the replica that saw it first did): a resolution with no previous
    # version known is old news to this state.
    assert await told(state, run(ExecutionStatus.RUNNING, APPROVED), None) == []


async def test_one_approval_still_pending_does_not_hide_the_next_one() -> None:
    state = MemoryState()
    second = Approval("step_2", ApprovalStatus.PENDING, requested_at=ASKED)
    before = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
    now = run(ExecutionStatus.COMPLETED, PENDING, second)
    assert await told(state, now, before) == [
        ("approval.requested", "step_2"),
        ("execution.completed", None),
    ]


async def test_the_pending_marker_is_a_key_every_replica_and_build_reads_alike() -> None:
    """Another replica, maybe of another build mid-deploy, looks the marker up by this key."""
    state = MemoryState()
    await told(state, run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING), None, announce=False)
    marker = hashlib.sha256(b"velt\nexec_1\nstep_1").hexdigest()[:32]
    assert await state.get(f"notify:pending:{marker}") == b"1"


async def test_a_resolution_is_told_only_after_the_approval_was_seen_pending() -> None:
    state = MemoryState()
    waiting = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
    decided = run(ExecutionStatus.RUNNING, APPROVED)
    assert await told(state, decided, run(ExecutionStatus.RUNNING, APPROVED)) == []
    assert await told(state, decided, waiting) == [("approval.resolved", "step_1")]
    assert await told(state, waiting, None, announce=False) == []  # a poll's first look: marked
    assert await told(state, decided, None) == [("approval.resolved", "step_1")]
    # Seen decided in the previous version: told already, whatever the marker says.
    assert await told(state, decided, decided) == []


async def test_the_pending_marker_is_per_approval_and_lasts_its_ttl() -> None:
    clock = Clock()
    state = MemoryState(clock=clock)
    await told(state, run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING), None)
    other_key = Approval("step_2", ApprovalStatus.APPROVED)
    assert await told(state, run(ExecutionStatus.RUNNING, other_key), None) == []
    other_run = run(ExecutionStatus.RUNNING, APPROVED, native_id="exec_2")
    assert await told(state, other_run, None) == []
    decided = run(ExecutionStatus.RUNNING, APPROVED)
    assert await told(state, decided, None, source="rv") == []
    clock.now += TTL_S - 1
    assert await told(state, decided, None) == [("approval.resolved", "step_1")]
    clock.now += 2
    assert await told(state, decided, None) == []


async def test_with_the_shared_state_away_what_the_versions_show_is_still_told() -> None:
    away = RedisState("redis://127.0.0.1:9/0", timeout_s=0.2)
    try:
        waiting = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
        decided = run(ExecutionStatus.RUNNING, APPROVED)
        assert await told(away, waiting, None) == [("approval.requested", "step_1")]
        assert await told(away, decided, waiting) == [("approval.resolved", "step_1")]
        assert await told(away, decided, None) == []  # cannot tell: not told
    finally:
        await away.aclose()


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [
        (ExecutionStatus.COMPLETED, None, ["execution.completed"]),
        (ExecutionStatus.COMPLETED, ExecutionStatus.RUNNING, ["execution.completed"]),
        (ExecutionStatus.COMPLETED, ExecutionStatus.COMPLETED, []),
        (ExecutionStatus.FAILED, ExecutionStatus.RUNNING, ["execution.failed"]),
        (ExecutionStatus.FAILED, ExecutionStatus.COMPLETED, ["execution.failed"]),
        (ExecutionStatus.FAILED, ExecutionStatus.FAILED, []),
        (ExecutionStatus.CANCELLED, ExecutionStatus.RUNNING, []),
        (ExecutionStatus.TIMED_OUT, None, []),
        (ExecutionStatus.RUNNING, None, []),
    ],
)
async def test_an_ending_is_told_when_it_is_new(
    now: ExecutionStatus, before: ExecutionStatus | None, expected: list[str]
) -> None:
    previous = run(before) if before is not None else None
    events = await told(MemoryState(), run(now), previous)
    assert events == [(kind, None) for kind in expected]


async def test_every_event_of_a_change_in_order_and_what_each_carries() -> None:
    state = MemoryState()
    first = Approval("a", ApprovalStatus.PENDING, requested_at=ASKED)
    second = Approval("b", ApprovalStatus.PENDING, requested_at=ASKED)
    before = run(ExecutionStatus.WAITING_FOR_APPROVAL, first, second)
    now = run(
        ExecutionStatus.COMPLETED,
        Approval("a", ApprovalStatus.REJECTED),
        Approval("b", ApprovalStatus.APPROVED),
        Approval("c", ApprovalStatus.PENDING),
    )
    events = await events_of(Change("rv", now, before, True, 7.5), state, TTL_S)
    assert [(e.type, e.approval.key if e.approval else None) for e in events] == [
        ("approval.resolved", "a"),
        ("approval.resolved", "b"),
        ("approval.requested", "c"),
        ("execution.completed", None),
    ]
    for event in events:
        assert (event.source, event.execution, event.seen_at) == ("rv", now, 7.5)
    assert events[0].approval == now.approvals[0]


# --- ids -----------------------------------------------------------------------------------------


def expected_id(*parts: str) -> str:
    """The derivation docs/live.md describes: ``evt_`` and a digest of what the event is."""
    return "evt_" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def test_an_event_id_is_derived_from_what_the_event_is() -> None:
    execution = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
    requested = Event("approval.requested", "velt", execution, PENDING, 1.0)
    assert requested.webhook_id == expected_id(
        "approval.requested", "velt", "exec_1", "step_1", ASKED.isoformat()
    )
    assert len(requested.webhook_id) == 36
    unasked = Approval("step_1", ApprovalStatus.PENDING)
    assert Event("approval.requested", "velt", execution, unasked, 1.0).webhook_id == (
        expected_id("approval.requested", "velt", "exec_1", "step_1", "")
    )
    ended = Event("execution.completed", "rv", run(ExecutionStatus.COMPLETED), None, 1.0)
    assert ended.webhook_id == expected_id("execution.completed", "rv", "exec_1")


def test_events_that_differ_in_anything_they_are_have_different_ids() -> None:
    execution = run(ExecutionStatus.WAITING_FOR_APPROVAL, PENDING)
    base = Event("approval.requested", "velt", execution, PENDING, 1.0)
    asked_again = Approval("step_1", ApprovalStatus.PENDING, requested_at=DECIDED)
    variants = [
        Event("approval.resolved", "velt", execution, PENDING, 1.0),
        Event("approval.requested", "rv", execution, PENDING, 1.0),
        Event(
            "approval.requested", "velt", run(ExecutionStatus.RUNNING, native_id="e2"), PENDING, 1.0
        ),
        Event("approval.requested", "velt", execution, Approval("step_2", PENDING.status), 1.0),
        Event("approval.requested", "velt", execution, asked_again, 1.0),
    ]
    assert len({base.webhook_id, *(v.webhook_id for v in variants)}) == 6
    assert Event("approval.requested", "velt", execution, PENDING, 99.0).webhook_id == (
        base.webhook_id
    )


# --- bodies --------------------------------------------------------------------------------------


def test_the_standard_body_of_an_approval_event_names_everything() -> None:
    approval = Approval(
        "step_1",
        ApprovalStatus.APPROVED,
        step_native_id="st-9",
        message="Refund?",
        requested_at=ASKED,
        decided_at=DECIDED,
        decided_by="lead@example.com",
    )
    execution = run(
        ExecutionStatus.FAILED,
        approval,
        error=ErrorInfo("E1", "boom"),
        workflow=Workflow("wf_1", "Refunds"),
    )
    event = Event("approval.resolved", "rv", execution, approval, 1.0)
    assert standard_body(event, "2026-01-01T10:00:01Z") == {
        "type": "approval.resolved",
        "timestamp": "2026-01-01T10:00:01Z",
        "data": {
            "source": "rv",
            "executionId": "rv:exec_1",
            "nativeId": "exec_1",
            "status": "FAILED",
            "upstreamStatus": "failed",
            "workflow": {"id": "wf_1", "name": "Refunds"},
            "error": {"code": "E1", "message": "boom"},
            "approval": {
                "id": ids.approval_id("rv", "exec_1", "step_1"),
                "key": "step_1",
                "status": "APPROVED",
                "stepNativeId": "st-9",
                "message": "Refund?",
                "requestedAt": ASKED.isoformat(),
                "decidedAt": DECIDED.isoformat(),
                "decidedBy": "lead@example.com",
            },
        },
    }


def test_the_standard_body_of_a_bare_execution_event_leaves_out_what_it_lacks() -> None:
    event = Event("execution.completed", "tl", run(ExecutionStatus.COMPLETED), None, 1.0)
    assert standard_body(event, "t") == {
        "type": "execution.completed",
        "timestamp": "t",
        "data": {
            "source": "tl",
            "executionId": "tl:exec_1",
            "nativeId": "exec_1",
            "status": "COMPLETED",
            "upstreamStatus": "completed",
            "workflow": None,
        },
    }
    pending = Event("approval.requested", "tl", run(ExecutionStatus.RUNNING, PENDING), PENDING, 1)
    approval = standard_body(pending, "t")["data"]["approval"]
    assert (approval["decidedAt"], approval["decidedBy"], approval["stepNativeId"]) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("kind", "execution", "approval", "text"),
    [
        pytest.param(
            "approval.requested",
            run(ExecutionStatus.WAITING_FOR_APPROVAL, workflow=Workflow("wf_1", "Refunds")),
            Approval("k", ApprovalStatus.PENDING, step_native_id="st-2", message="Refund 9?"),
            "Approval requested for velt:exec_1 (Refunds) at step st-2: Refund 9?",
            id="requested",
        ),
        pytest.param(
            "approval.requested",
            run(ExecutionStatus.WAITING_FOR_APPROVAL, workflow=Workflow("wf_1")),
            Approval("k", ApprovalStatus.PENDING),
            "Approval requested for velt:exec_1 (wf_1)",
            id="requested-bare",
        ),
        pytest.param(
            "approval.resolved",
            run(ExecutionStatus.RUNNING),
            Approval("k", ApprovalStatus.REJECTED, decided_by="lead@example.com"),
            "Approval rejected by lead@example.com for velt:exec_1",
            id="resolved",
        ),
        pytest.param(
            "approval.resolved",
            run(ExecutionStatus.RUNNING, workflow=Workflow(None, None)),
            Approval("k", ApprovalStatus.APPROVED),
            "Approval approved for velt:exec_1",
            id="resolved-anonymous",
        ),
        pytest.param(
            "execution.failed",
            run(ExecutionStatus.FAILED, error=ErrorInfo("E1", "boom")),
            None,
            "Execution velt:exec_1 failed: boom",
            id="failed",
        ),
        pytest.param(
            "execution.failed",
            run(ExecutionStatus.FAILED, error=ErrorInfo("E1", None)),
            None,
            "Execution velt:exec_1 failed: E1",
            id="failed-code",
        ),
        pytest.param(
            "execution.failed",
            run(ExecutionStatus.FAILED, error=ErrorInfo(None, None)),
            None,
            "Execution velt:exec_1 failed",
            id="failed-unexplained",
        ),
        pytest.param(
            "execution.failed",
            run(ExecutionStatus.FAILED),
            None,
            "Execution velt:exec_1 failed",
            id="failed-no-error",
        ),
        pytest.param(
            "execution.completed",
            run(ExecutionStatus.COMPLETED, workflow=Workflow("wf_1", "Refunds")),
            None,
            "Execution velt:exec_1 (Refunds) completed",
            id="completed",
        ),
    ],
)
def test_the_slack_line_says_what_happened(
    kind: str, execution: Execution, approval: Approval | None, text: str
) -> None:
    assert slack_text(Event(kind, "velt", execution, approval, 1.0)) == text


def test_the_slack_line_escapes_what_could_form_links_or_mentions() -> None:
    approval = Approval("k", ApprovalStatus.PENDING, message="<!channel> & <https://x|y>")
    execution = run(ExecutionStatus.WAITING_FOR_APPROVAL, workflow=Workflow("w", "A&B"))
    text = slack_text(Event("approval.requested", "velt", execution, approval, 1.0))
    assert text == (
        "Approval requested for velt:exec_1 (A&amp;B): &lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    )
