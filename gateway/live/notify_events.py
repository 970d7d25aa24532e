"""What a published change means for outbound notifications, and how each event reads.

An event's ``webhook_id`` is derived from the event alone (its type, source, execution and
approval), never from the replica or the moment that saw it: every replica, and a replica after a
restart, names the same event the same way, so a claim in the shared state stops a second send and
a receiver de-duplicates the rare redelivery.

Whether an approval was pending before it was resolved is remembered in the shared state (a marker
per approval, for ``ttl_s``), not only in this process: the replica that sees the request and the
one that sees the decision are often not the same (webhooks go to any replica).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.model import ApprovalStatus, ExecutionStatus
from gateway.core.ids import approval_id, execution_id
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.model import Approval, Execution
    from gateway.state.base import SharedState

__all__ = ["Change", "Event", "events_of", "slack_text", "standard_body"]

APPROVAL_REQUESTED = "approval.requested"
APPROVAL_RESOLVED = "approval.resolved"
_TERMINAL_EVENTS = {
    ExecutionStatus.COMPLETED: "execution.completed",
    ExecutionStatus.FAILED: "execution.failed",
}


@dataclass(frozen=True, slots=True)
class Change:
    """One change the hub published: the execution now, the version it published before (None:
    unknown here), and whether newly pending approvals are news (not a poll's first look)."""

    source: str
    execution: Execution
    previous: Execution | None
    announce: bool
    seen_at: float


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    source: str
    execution: Execution
    approval: Approval | None
    seen_at: float

    @property
    def webhook_id(self) -> str:
        """``evt_`` and 32 hex digits of a digest of what the event is (stable everywhere)."""
        parts = [self.type, self.source, self.execution.native_id]
        if self.approval is not None:
            parts += [self.approval.key, _iso(self.approval.requested_at) or ""]
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return f"evt_{digest[:32]}"


async def events_of(change: Change, state: SharedState, ttl_s: float) -> list[Event]:
    """The events ``change`` holds: approvals newly pending (when announced) or resolved after
    the gateway saw them pending, and an execution that completed or failed."""
    events: list[Event] = []
    before = (
        {a.key: a.status for a in change.previous.approvals} if change.previous is not None else {}
    )
    for approval in change.execution.approvals:
        was = before.get(approval.key)
        marker = _pending_marker(change.source, change.execution.native_id, approval.key)
        if approval.status is ApprovalStatus.PENDING:
            if was is ApprovalStatus.PENDING:
                continue
            if change.announce:
                events.append(_event(APPROVAL_REQUESTED, change, approval))
            # Away: its resolution is still told where the previous version shows it pending.
            with contextlib.suppress(StateUnavailable):
                await state.set(marker, b"1", ttl_s)
        elif was is ApprovalStatus.PENDING or (was is None and await _marked(state, marker)):
            events.append(_event(APPROVAL_RESOLVED, change, approval))
    terminal = _TERMINAL_EVENTS.get(change.execution.status)
    if terminal is not None and (
        change.previous is None or change.previous.status is not change.execution.status
    ):
        events.append(_event(terminal, change, None))
    return events


def _event(kind: str, change: Change, approval: Approval | None) -> Event:
    return Event(kind, change.source, change.execution, approval, change.seen_at)


async def _marked(state: SharedState, marker: str) -> bool:
    try:
        return await state.get(marker) is not None
    except StateUnavailable:
        return False


def _pending_marker(source: str, native_id: str, key: str) -> str:
    digest = hashlib.sha256(f"{source}\n{native_id}\n{key}".encode()).hexdigest()
    return f"notify:pending:{digest[:32]}"


def standard_body(event: Event, timestamp: str) -> dict[str, Any]:
    """The Standard Webhooks payload shape: ``type``, ``timestamp`` and ``data``."""
    execution = event.execution
    data: dict[str, Any] = {
        "source": event.source,
        "executionId": execution_id(event.source, execution.native_id),
        "nativeId": execution.native_id,
        "status": execution.status.value,
        "upstreamStatus": execution.upstream_status,
        "workflow": (
            {"id": execution.workflow.id, "name": execution.workflow.name}
            if execution.workflow is not None
            else None
        ),
    }
    if execution.error is not None:
        data["error"] = {"code": execution.error.code, "message": execution.error.message}
    approval = event.approval
    if approval is not None:
        data["approval"] = {
            "id": approval_id(event.source, execution.native_id, approval.key),
            "key": approval.key,
            "status": approval.status.value,
            "stepNativeId": approval.step_native_id,
            "message": approval.message,
            "requestedAt": _iso(approval.requested_at),
            "decidedAt": _iso(approval.decided_at),
            "decidedBy": approval.decided_by,
        }
    return {"type": event.type, "timestamp": timestamp, "data": data}


def slack_text(event: Event) -> str:
    """One line a person reads in a channel (Slack's incoming-webhook ``text``), with ``&``,
    ``<`` and ``>`` escaped as Slack asks, so names from upstreams cannot form links or mentions."""
    line = _slack_line(event)
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_line(event: Event) -> str:
    execution = event.execution
    what = execution_id(event.source, execution.native_id)
    workflow = execution.workflow.name or execution.workflow.id if execution.workflow else None
    named = f"{what} ({workflow})" if workflow else what
    approval = event.approval
    if event.type == APPROVAL_REQUESTED and approval is not None:
        step = f" at step {approval.step_native_id}" if approval.step_native_id else ""
        note = f": {approval.message}" if approval.message else ""
        return f"Approval requested for {named}{step}{note}"
    if event.type == APPROVAL_RESOLVED and approval is not None:
        by = f" by {approval.decided_by}" if approval.decided_by else ""
        return f"Approval {approval.status.value.lower()}{by} for {named}"
    if event.type == "execution.failed":
        reason = ""
        if execution.error is not None and (execution.error.message or execution.error.code):
            reason = f": {execution.error.message or execution.error.code}"
        return f"Execution {named} failed{reason}"
    return f"Execution {named} completed"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
