"""The decision mutations: ``approve`` and ``reject`` (design §3).

Each returns a union: the success payload (the Approval and its Execution as re-read after the
decision) or one typed error saying why nothing was decided. The use case, its checks and its
audit record are ``gateway/core/deciding.py``; the resolvers only map its result to the union.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from adapters.base import Decision
from gateway.core import deciding
from gateway.core.decisions import MAX_NOTES_LENGTH
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
    context = info.context
    request = deciding.DecisionRequest(
        approval_id=str(input.approval_id),
        decision=decision,
        notes=input.notes,
        caller=context.caller,
        request_id=context.request_id,
    )
    return _answer(await deciding.decide_approval(context.runtime, context.loaders, request))


def _answer(result: deciding.Result) -> DecisionResult:
    """The use case's result as the GraphQL union: one variant each, codes as in docs/errors.md."""
    match result:
        case deciding.Decided() | deciding.AlreadyRecorded():
            execution = Execution.from_model(result.source, result.execution)
            return DecisionSuccess(
                approval=Approval.from_model(execution, result.approval),
                execution=execution,
                already_recorded=isinstance(result, deciding.AlreadyRecorded),
            )
        case (
            deciding.NotWaiting(execution=current, approval=approval)
            | deciding.RecordedOtherwise(execution=current, approval=approval)
        ):
            view = None
            if current is not None and approval is not None:
                view = Approval.from_model(Execution.from_model(result.source, current), approval)
            return ApprovalNotWaiting(
                code="CONFLICT", message=result.message, current_approval=view
            )
        case deciding.NotFound():
            return ApprovalNotFound(code="NOT_FOUND", message=result.message)
        case deciding.Forbidden():
            return DecisionForbidden(code="FORBIDDEN", message=result.message)
        case deciding.Unsupported():
            return DecisionUnsupported(
                code="UNSUPPORTED", message=result.message, source=result.source
            )
        case deciding.InvalidInput():
            return DecisionInputInvalid(
                code="BAD_USER_INPUT", message=result.message, field=result.field
            )
        case deciding.UpstreamFailed(error=error):
            return UpstreamFailure(
                code=error.code,
                message=f"{error.message}; the decision was not confirmed",
                source=result.source,
                http_status=error.http_status,
                retry_after=error.retry_after,
            )
