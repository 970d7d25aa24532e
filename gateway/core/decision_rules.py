"""Whether a caller may decide an approval: one set of rules for the button and the mutation.

``Approval.viewerCanDecide`` and the decision use case (``deciding.py``) both ask ``permission``,
so what an inbox offers and what ``approve``/``reject``/``decideMany`` then do never disagree.
GraphQL-free. The rules, in the order they are asked (the first that fails is the reason):

1. ``LACKS_ROLE``: the client has no ``approver`` role.
2. ``OUT_OF_SCOPE``: the approval's execution is outside the client's scope (a read never shows
   one: out of scope reads as absent, and the mutation answers it as not found).
3. ``NOT_WAITING``: the approval is decided, or its execution has ended.
4. ``NOT_A_REVIEWER``: the approval declares reviewers and the caller's ``reviewer_id`` is not
   one of them (an approval that declares none is left to the upstream).
5. ``ALREADY_VOTED``: the caller's own vote is on record (Velt votes per reviewer; the step may
   still wait for others).
6. ``FOUR_EYES``: with ``auth.four_eyes``, the caller started the run through the gateway
   (``RunControl.started_by``); while the shared state cannot say, nobody may.

The first three depend only on the caller's roles and scope and on the execution's state, so an
answer kept for a finished execution (the response cache keys on roles and scope) stays right.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.model import ApprovalStatus
from gateway.core.caller import APPROVER
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from adapters.model import Approval, Execution
    from gateway.core.caller import Caller
    from gateway.core.runtime import Runtime

__all__ = [
    "ALLOWED",
    "Denial",
    "Permission",
    "assigned_to",
    "check_role",
    "permission",
    "verdict",
]


class Denial(enum.Enum):
    """Why a caller may not decide an approval (``Permission.denial``)."""

    LACKS_ROLE = "LACKS_ROLE"
    OUT_OF_SCOPE = "OUT_OF_SCOPE"
    NOT_WAITING = "NOT_WAITING"
    NOT_A_REVIEWER = "NOT_A_REVIEWER"
    ALREADY_VOTED = "ALREADY_VOTED"
    FOUR_EYES = "FOUR_EYES"


@dataclass(frozen=True, slots=True)
class Permission:
    """The answer: allowed (``denial`` None), or the first rule that refuses and why."""

    denial: Denial | None = None
    message: str | None = None
    recorded: ApprovalStatus | None = None
    """For ``ALREADY_VOTED``: the vote on record, which a repeat of it is answered with."""

    @property
    def allowed(self) -> bool:
        return self.denial is None


ALLOWED = Permission()


def check_role(caller: Caller) -> Permission:
    """Rule 1 alone: what the mutation asks before it reads anything."""
    if APPROVER not in caller.roles:
        return Permission(Denial.LACKS_ROLE, "this client lacks the approver role")
    return ALLOWED


def verdict(
    caller: Caller, execution: Execution, approval: Approval, *, in_scope: bool
) -> Permission:
    """Rules 1-5, which need nothing but what is given (no I/O)."""
    refused = check_role(caller)
    if not refused.allowed:
        return refused
    if not in_scope:
        return Permission(Denial.OUT_OF_SCOPE, "no such approval")
    if approval.status is not ApprovalStatus.PENDING:
        return Permission(
            Denial.NOT_WAITING, f"the approval was already decided ({approval.status.value})"
        )
    if execution.is_terminal:
        return Permission(Denial.NOT_WAITING, f"the execution has ended ({execution.status.value})")
    if approval.reviewers:
        reviewer = next((r for r in approval.reviewers if r.id == caller.reviewer_id), None)
        if reviewer is None:
            who = f"reviewer '{caller.reviewer_id}'" if caller.reviewer_id else "this client"
            return Permission(
                Denial.NOT_A_REVIEWER, f"{who} is not one of the approval's declared reviewers"
            )
        if reviewer.decision is not None:
            return Permission(
                Denial.ALREADY_VOTED,
                f"reviewer '{reviewer.id}' already recorded "
                f"{reviewer.decision.value.lower()} on this approval",
                recorded=reviewer.decision,
            )
    return ALLOWED


async def permission(
    runtime: Runtime,
    caller: Caller,
    source: str,
    execution: Execution,
    approval: Approval,
    *,
    started_by: Callable[[str, str], Awaitable[str | None]] | None = None,
) -> Permission:
    """Every rule: ``verdict``, then four-eyes (one shared-state read, only when it is on and
    every other rule allows). ``started_by`` defaults to the runtime's run-control record."""
    scope = caller.scope
    in_scope = scope is None or scope.allows(source, execution, runtime.adapters[source].partition)
    found = verdict(caller, execution, approval, in_scope=in_scope)
    if not found.allowed or not runtime.config.auth.four_eyes:
        return found
    lookup = started_by or runtime.run_control.started_by
    try:
        starter = await lookup(source, execution.native_id)
    except StateUnavailable:
        return Permission(
            Denial.FOUR_EYES,
            "four-eyes: the shared state cannot say who started this run, so nobody may "
            "decide it now; try again shortly",
        )
    if starter == caller.name:
        return Permission(
            Denial.FOUR_EYES, "four-eyes: this client started the run, so another must decide it"
        )
    return ALLOWED


def assigned_to(reviewer_id: str, approval: Approval) -> bool:
    """Whether ``approval`` waits on ``reviewer_id``: a declared reviewer who has not voted."""
    return approval.status is ApprovalStatus.PENDING and any(
        r.id == reviewer_id and r.decision is None for r in approval.reviewers
    )
