"""An execution's timeline, derived from what its upstream payload shows (docs/live.md).

GraphQL-free: ``timeline`` turns one model Execution into ordered events — created, started,
each step's start and end, each approval's request and decision (with who), the end. What an
event cannot be dated from the payload (Rotavision steps carry no times) keeps ``at = None``
and its logical place; when every event is dated, they are sorted by time (stably).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.model import ApprovalStatus, StepStatus

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.base import UpstreamEvent
    from adapters.model import Approval, Execution

__all__ = ["TimelineEvent", "from_upstream_log", "timeline"]

_STEP_ENDS = {
    StepStatus.COMPLETED: "STEP_COMPLETED",
    StepStatus.FAILED: "STEP_FAILED",
    StepStatus.CANCELLED: "STEP_CANCELLED",
    StepStatus.TIMED_OUT: "STEP_TIMED_OUT",
    StepStatus.SKIPPED: "STEP_SKIPPED",
}


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    kind: str
    """EXECUTION_CREATED, EXECUTION_STARTED, STEP_STARTED, STEP_COMPLETED (…FAILED, CANCELLED,
    TIMED_OUT, SKIPPED), APPROVAL_REQUESTED, APPROVAL_APPROVED, APPROVAL_REJECTED, and
    EXECUTION_<terminal status>."""
    at: datetime | None
    step_native_id: str | None = None
    step_name: str | None = None
    actor: str | None = None


def timeline(execution: Execution) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    if execution.created_at is not None:
        events.append(TimelineEvent("EXECUTION_CREATED", execution.created_at))
    if execution.started_at is not None and execution.started_at != execution.created_at:
        events.append(TimelineEvent("EXECUTION_STARTED", execution.started_at))
    approvals = {a.step_native_id: a for a in execution.approvals if a.step_native_id}
    for step in execution.steps:
        if step.started_at is not None:
            events.append(TimelineEvent("STEP_STARTED", step.started_at, step.native_id, step.name))
        approval = approvals.pop(step.native_id, None)
        if approval is not None:
            events += _approval_events(approval, step.native_id, step.name)
        end = _STEP_ENDS.get(step.status)
        if end is not None:
            events.append(TimelineEvent(end, step.completed_at, step.native_id, step.name, None))
    for approval in [
        *approvals.values(),
        *(a for a in execution.approvals if not a.step_native_id),
    ]:
        events += _approval_events(approval, approval.step_native_id, None)
    if execution.is_terminal:
        events.append(TimelineEvent(f"EXECUTION_{execution.status.value}", execution.completed_at))
    if all(e.at is not None for e in events):
        events.sort(key=lambda e: e.at)  # type: ignore[arg-type,return-value]
    return events


def _approval_events(
    approval: Approval, step_id: str | None, name: str | None
) -> list[TimelineEvent]:
    found = []
    if approval.requested_at is not None or approval.status is ApprovalStatus.PENDING:
        found.append(TimelineEvent("APPROVAL_REQUESTED", approval.requested_at, step_id, name))
    if approval.status is not ApprovalStatus.PENDING:
        found.append(
            TimelineEvent(
                f"APPROVAL_{approval.status.value}",
                approval.decided_at,
                step_id,
                name,
                approval.decided_by,
            )
        )
    return found


_UPSTREAM_KINDS = {
    "execution.dispatched": "EXECUTION_STARTED",
    "execution.completed": "EXECUTION_COMPLETED",
    "execution.failed": "EXECUTION_FAILED",
    "execution.cancelled": "EXECUTION_CANCELLED",
    "step.awaiting-approval": "APPROVAL_REQUESTED",
    "step.completed": "STEP_COMPLETED",
    "step.failed": "STEP_FAILED",
    "step.cancelled": "STEP_CANCELLED",
    "step.breached": "STEP_TIMED_OUT",
}


def from_upstream_log(execution: Execution, events: list[UpstreamEvent]) -> list[TimelineEvent]:
    """The upstream's own event log (Velt's ``getEvents``), in its ``seq`` order, in the same
    kinds as a derived timeline; a type this table does not know keeps its word, upper-cased
    (``group.quorum-met`` → ``GROUP_QUORUM_MET``), rather than being dropped. The log has no
    decision event, so each decided approval's APPROVED/REJECTED (with who decided, from the
    payload) stands just before its step's end."""
    names = {step.native_id: step.name for step in execution.steps}
    decided = {
        a.step_native_id: a
        for a in execution.approvals
        if a.step_native_id and a.status is not ApprovalStatus.PENDING
    }
    found: list[TimelineEvent] = []
    for event in sorted(events, key=lambda e: e.seq):
        kind = _UPSTREAM_KINDS.get(event.type)
        if kind is None:
            kind = event.type.upper().replace(".", "_").replace("-", "_")
        step = event.step_native_id
        name = names.get(step) if step is not None else None
        approval = (
            decided.pop(step, None) if step is not None and kind.startswith("STEP_") else None
        )
        if approval is not None:
            found.append(
                TimelineEvent(
                    f"APPROVAL_{approval.status.value}",
                    approval.decided_at or event.at,
                    step,
                    name,
                    approval.decided_by,
                )
            )
        found.append(TimelineEvent(kind, event.at, step, name))
    return found
