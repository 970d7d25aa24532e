"""The decision mutations: ``approve`` and ``reject`` (design §3).

Each returns a union: the success payload (the Approval and its Execution as re-read after the
decision) or one typed error saying why nothing was decided. Everything the gateway can check
itself (role, input, capability, whether the approval still waits) is checked before any
upstream write.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

import strawberry
from strawberry.types import Info

from adapters.base import Decision
from adapters.errors import (
    ExecutionNotFound,
    UpstreamConflict,
    UpstreamError,
    UpstreamForbidden,
)
from adapters.model import ApprovalStatus
from adapters.model import Execution as ExecutionModel
from gateway.core import ids
from gateway.core.decisions import MAX_NOTES_LENGTH, Outcome
from gateway.schema.context import Context
from gateway.schema.types import Approval, Execution

__all__ = [
    "ApprovalNotFound",
    "ApprovalNotWaiting",
    "DecisionError",
    "DecisionForbidden",
    "DecisionInput",
    "DecisionInputInvalid",
    "DecisionSuccess",
    "DecisionUnsupported",
    "Mutation",
    "UpstreamFailure",
]


@strawberry.input(description="Which approval to decide, and the reviewer's notes.")
class DecisionInput:
    approval_id: strawberry.ID
    notes: str | None = strawberry.field(
        default=None, description=f"At most {MAX_NOTES_LENGTH} characters."
    )


@strawberry.type(description="The upstream confirmed the decision.")
class DecisionSuccess:
    approval: Approval = strawberry.field(
        description="As re-read after the decision: still PENDING when other reviewers must vote."
    )
    execution: Execution
    already_recorded: bool = strawberry.field(
        description="The upstream had this very decision already (a repeat is harmless)."
    )


@strawberry.interface(description="Why a decision was not made. Nothing was changed upstream.")
class DecisionError:
    code: str = strawberry.field(description="The stable error code, as in extensions.code.")
    message: str


@strawberry.type(description="No such approval (code NOT_FOUND).")
class ApprovalNotFound(DecisionError):
    pass


@strawberry.type(description="The approval was decided already (code CONFLICT).")
class ApprovalNotWaiting(DecisionError):
    current_approval: Approval | None = strawberry.field(
        description="The approval as it stands, when the gateway could read it."
    )


@strawberry.type(description="This upstream has no approvals (code UNSUPPORTED).")
class DecisionUnsupported(DecisionError):
    source: str


@strawberry.type(
    description="The caller may not decide: no approver role, or the upstream refuses this "
    "reviewer (code FORBIDDEN)."
)
class DecisionForbidden(DecisionError):
    pass


@strawberry.type(
    description="The input was refused before any upstream call (code BAD_USER_INPUT)."
)
class DecisionInputInvalid(DecisionError):
    field: str


@strawberry.type(
    description="The upstream could not confirm the decision (codes UPSTREAM_*); treat it as "
    "not done and read the approval again before retrying."
)
class UpstreamFailure(DecisionError):
    source: str
    http_status: int | None
    retry_after: float | None


DecisionResult = Annotated[
    DecisionSuccess
    | ApprovalNotFound
    | ApprovalNotWaiting
    | DecisionUnsupported
    | DecisionForbidden
    | DecisionInputInvalid
    | UpstreamFailure,
    strawberry.union("DecisionResult"),
]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Approve a pending approval (callers with the approver role).")
    async def approve(self, info: Info[Context, None], input: DecisionInput) -> DecisionResult:
        return await _decide(info, input, Decision.APPROVE)

    @strawberry.mutation(description="Reject a pending approval (callers with the approver role).")
    async def reject(self, info: Info[Context, None], input: DecisionInput) -> DecisionResult:
        return await _decide(info, input, Decision.REJECT)


async def _decide(
    info: Info[Context, None], input: DecisionInput, decision: Decision
) -> DecisionResult:
    started = time.perf_counter()
    context = info.context
    runtime = context.runtime
    audit: dict[str, object] = {
        "caller": context.caller.name,
        "reviewer": context.caller.reviewer_id,
        "approval": str(input.approval_id)[:200],
        "decision": decision.value,
        "request_id": context.request_id,
    }

    def done(result: DecisionResult, outcome: Outcome, **extra: object) -> DecisionResult:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        runtime.decisions.audit(**audit, outcome=outcome.value, duration_ms=duration_ms, **extra)
        return result

    if "approver" not in context.caller.roles:
        message = f"client '{context.caller.name}' lacks the approver role"
        return done(DecisionForbidden(code="FORBIDDEN", message=message), Outcome.FORBIDDEN)
    if input.notes is not None and len(input.notes) > MAX_NOTES_LENGTH:
        message = f"notes: at most {MAX_NOTES_LENGTH} characters, got {len(input.notes)}"
        return done(
            DecisionInputInvalid(code="BAD_USER_INPUT", message=message, field="notes"),
            Outcome.INVALID,
        )
    try:
        ref = ids.parse_id(input.approval_id)
    except ids.InvalidId as exc:
        invalid = DecisionInputInvalid(code="BAD_USER_INPUT", message=str(exc), field="approvalId")
        return done(invalid, Outcome.INVALID)
    if not isinstance(ref, ids.ApprovalRef):
        message = "approvalId: expected an approval id (Approval.id)"
        return done(
            DecisionInputInvalid(code="BAD_USER_INPUT", message=message, field="approvalId"),
            Outcome.INVALID,
        )
    source = ref.execution.source
    audit["source"] = source
    if source not in runtime.sources:
        message = f"approvalId: unknown source '{source}'"
        return done(
            DecisionInputInvalid(code="BAD_USER_INPUT", message=message, field="approvalId"),
            Outcome.INVALID,
        )
    if not runtime.decisions.supports(source):
        message = f"source '{source}' ({runtime.sources[source].kind.value}) has no approvals"
        return done(
            DecisionUnsupported(code="UNSUPPORTED", message=message, source=source),
            Outcome.UNSUPPORTED,
        )

    # Decide against the upstream's current state, not a cached copy.
    native_id = ref.execution.native_id
    runtime.store.invalidate(source, native_id)
    context.loaders.forget(source, native_id)
    try:
        before = await context.loaders.execution(source, native_id)
    except ExecutionNotFound:
        return done(
            ApprovalNotFound(code="NOT_FOUND", message="no such approval"), Outcome.NOT_FOUND
        )
    except UpstreamError as exc:
        return done(
            _upstream_failure(exc, source), Outcome.UPSTREAM_FAILED, upstream_status=exc.http_status
        )
    approval = before.approval(ref.key)
    if approval is None:
        return done(
            ApprovalNotFound(code="NOT_FOUND", message="no such approval"), Outcome.NOT_FOUND
        )
    if approval.status is not ApprovalStatus.PENDING:
        view = Approval.from_model(Execution.from_model(source, before), approval)
        message = f"the approval was already decided ({approval.status.value})"
        return done(
            ApprovalNotWaiting(code="CONFLICT", message=message, current_approval=view),
            Outcome.NOT_WAITING,
        )

    attempt = await runtime.decisions.decide(
        source=source,
        execution=before,
        approval=approval,
        approval_id=str(input.approval_id),
        decision=decision,
        caller=context.caller,
        notes=input.notes,
    )
    context.loaders.forget(source, native_id)
    error = attempt.error
    if error is not None:
        extra = {"upstream_status": error.http_status, "upstream_code": error.upstream_code}
        if isinstance(error, UpstreamConflict):
            return done(
                ApprovalNotWaiting(
                    code="CONFLICT",
                    message="the approval was already decided",
                    current_approval=None,
                ),
                Outcome.NOT_WAITING,
                **extra,
            )
        if isinstance(error, UpstreamForbidden):
            message = f"the upstream does not accept decisions from reviewer '{context.caller.reviewer_id}'"
            return done(
                DecisionForbidden(code="FORBIDDEN", message=message), Outcome.FORBIDDEN, **extra
            )
        if isinstance(error, ExecutionNotFound):
            return done(
                ApprovalNotFound(code="NOT_FOUND", message="no such approval"),
                Outcome.NOT_FOUND,
                **extra,
            )
        return done(_upstream_failure(error, source), Outcome.UPSTREAM_FAILED, **extra)

    outcome = attempt.outcome
    assert outcome is not None
    after = await _reread(info, source, native_id, before)
    after_approval = after.approval(ref.key)
    if after_approval is None or (
        after is before and outcome.approval_status is not None
    ):  # the re-read failed: show what the upstream confirmed
        after_approval = dataclasses.replace(
            approval, status=outcome.approval_status or approval.status
        )
    execution_view = Execution.from_model(source, after)
    result = DecisionSuccess(
        approval=Approval.from_model(execution_view, after_approval),
        execution=execution_view,
        already_recorded=outcome.already_recorded,
    )
    resolved = after_approval.status is not ApprovalStatus.PENDING
    if outcome.already_recorded:
        recorded = Outcome.ALREADY_RECORDED
    else:
        recorded = Outcome.DECIDED if resolved else Outcome.VOTE_RECORDED
    return done(result, recorded, approval_status=after_approval.status.value)


async def _reread(
    info: Info[Context, None], source: str, native_id: str, before: ExecutionModel
) -> ExecutionModel:
    """The execution after the decision; the pre-decision copy if the upstream cannot say now."""
    try:
        return await info.context.loaders.execution(source, native_id)
    except UpstreamError:
        return before


def _upstream_failure(error: UpstreamError, source: str) -> UpstreamFailure:
    return UpstreamFailure(
        code=error.code,
        message=f"{error.message}; the decision was not confirmed",
        source=source,
        http_status=error.http_status,
        retry_after=error.retry_after,
    )
