"""The decision mutations ``approve``, ``reject`` and ``decideMany`` (design §3), and run control:
``startExecution``, ``cancelExecution``, ``rerunExecution`` (docs/run-control.md).

Each returns a union: the success payload (the Approval and its Execution as re-read after the
decision) or one typed error saying why nothing was decided. The use case, its checks and its
audit record are ``gateway/core/deciding.py``; the resolvers only map its result to the union.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from adapters.base import Decision
from gateway.core import deciding, ids, run_control
from gateway.core.caller import OPERATOR
from gateway.core.decisions import MAX_NOTES_LENGTH
from gateway.core.errors import bad_user_input, limit_error
from gateway.gate import FixedCost, ListSize, RequiresRole
from gateway.schema.context import Context
from gateway.schema.types import (
    Approval,
    DecisionDenial,
    Execution,
    ExecutionStatus,
    RunAction,
)

__all__ = [
    "DECISION_CALLS",
    "ApprovalNotFound",
    "ApprovalNotWaiting",
    "CancelExecutionInput",
    "DecisionError",
    "DecisionForbidden",
    "DecisionInput",
    "DecisionInputInvalid",
    "DecisionItemInput",
    "DecisionSuccess",
    "DecisionUnsupported",
    "IdempotencyKeyConflict",
    "Mutation",
    "RerunExecutionInput",
    "RunActionUnsupported",
    "RunAlreadyFinished",
    "RunControlError",
    "RunControlResult",
    "RunControlSuccess",
    "RunForbidden",
    "RunInputInvalid",
    "RunNotConfirmed",
    "RunNotFinished",
    "RunNotFound",
    "RunUpstreamFailure",
    "StartExecutionInput",
    "UpstreamFailure",
]


@strawberry.input(description="Which approval to decide, and the reviewer's notes.")
class DecisionInput:
    approval_id: strawberry.ID
    notes: str | None = strawberry.field(
        default=None, description=f"At most {MAX_NOTES_LENGTH} characters."
    )


strawberry.enum(Decision, description="What a decideMany item decides.")


@strawberry.input(description="One decision of decideMany: which approval, which way, and notes.")
class DecisionItemInput:
    approval_id: strawberry.ID
    decision: Decision
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
    description="The caller may not decide: a rule refuses (see `reason`, as "
    "Approval.viewerCanDecide said), or the upstream refuses this reviewer (code FORBIDDEN)."
)
class DecisionForbidden(DecisionError):
    reason: DecisionDenial | None = strawberry.field(
        default=None,
        description="The rule that refused (LACKS_ROLE, NOT_A_REVIEWER, FOUR_EYES); null when "
        "the upstream refused.",
    )


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


@strawberry.input(
    description="What to start. ``workflowId`` is the definition (Rotavision workflow, Velt "
    "definitionId, Truthlocks workflow_id); ``inputs`` the run's input. Truthlocks: ``agentId`` "
    "sends its prose request, ``agents`` (with workflowId) its OpenAPI one."
)
class StartExecutionInput:
    source: str
    idempotency_key: str = strawberry.field(
        description="The client's key (1-200 of A-Z a-z 0-9 : _ - .): the same key with the same "
        "input answers the first run for 24 h; with other input it is a conflict."
    )
    workflow_id: str | None = None
    inputs: JSON | None = None
    agent_id: str | None = None
    agents: list[str] | None = None
    correlation_id: str | None = strawberry.field(default=None, description="Velt only.")


@strawberry.input(description="Which run to cancel, and why (at most 500 characters).")
class CancelExecutionInput:
    execution_id: strawberry.ID
    reason: str | None = None


@strawberry.input(description="Which finished run to start again, under the client's key.")
class RerunExecutionInput:
    execution_id: strawberry.ID
    idempotency_key: str


@strawberry.type(description="The upstream accepted the action.")
class RunControlSuccess:
    action: RunAction
    execution_id: strawberry.ID = strawberry.field(description="The run started or cancelled.")
    execution: Execution | None = strawberry.field(
        description="As the upstream reports it now; null when it could not be read back."
    )
    replayed: bool = strawberry.field(
        description="A start answered from its idempotency key: this request started nothing."
    )


@strawberry.interface(description="Why a run-control action was not done (or not confirmed).")
class RunControlError:
    code: str = strawberry.field(description="The stable error code, as in extensions.code.")
    message: str


@strawberry.type(description="This source cannot do that; no upstream call was made (UNSUPPORTED).")
class RunActionUnsupported(RunControlError):
    source: str
    action: RunAction


@strawberry.type(description="No such execution or workflow (NOT_FOUND).")
class RunNotFound(RunControlError):
    pass


@strawberry.type(description="Cancel: the run had finished already; nothing was sent (CONFLICT).")
class RunAlreadyFinished(RunControlError):
    final_status: ExecutionStatus
    execution: Execution


@strawberry.type(description="Re-run: the run has not finished; nothing was started (CONFLICT).")
class RunNotFinished(RunControlError):
    execution: Execution


@strawberry.type(description="No operator role, or the upstream refuses the action (FORBIDDEN).")
class RunForbidden(RunControlError):
    pass


@strawberry.type(
    description="The upstream did not confirm (no answer, or one that could not be read): it "
    "may or may not have happened. Read the run before acting again; a start retried with the "
    "same key never starts a second run (codes UPSTREAM_*)."
)
class RunNotConfirmed(RunControlError):
    source: str


@strawberry.type(description="The upstream refused or was unreachable: nothing happened.")
class RunUpstreamFailure(RunControlError):
    source: str
    http_status: int | None
    retry_after: float | None


@strawberry.type(description="The idempotency key was used with other input (CONFLICT).")
class IdempotencyKeyConflict(RunControlError):
    pass


@strawberry.type(description="The input was refused before any upstream call (BAD_USER_INPUT).")
class RunInputInvalid(RunControlError):
    field: str


RunControlResult = Annotated[
    RunControlSuccess
    | RunActionUnsupported
    | RunNotFound
    | RunAlreadyFinished
    | RunNotFinished
    | RunForbidden
    | RunNotConfirmed
    | RunUpstreamFailure
    | IdempotencyKeyConflict
    | RunInputInvalid,
    strawberry.union("RunControlResult"),
]

DECISION_CALLS = 3
"""A decision's upstream calls, and a run-control action's: a read, the write, a read again."""
_DECISION_COST = FixedCost(upstream_calls=DECISION_CALLS)
_OPERATOR = [RequiresRole(role=OPERATOR), _DECISION_COST]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start a run (operator role); once per idempotency key.", directives=_OPERATOR
    )
    async def start_execution(
        self, info: Info[Context, None], input: StartExecutionInput
    ) -> RunControlResult:
        context = info.context
        request = run_control.StartInput(
            source=input.source,
            workflow_id=input.workflow_id,
            inputs=input.inputs,
            idempotency_key=input.idempotency_key,
            caller=context.caller,
            request_id=context.request_id,
            agent_id=input.agent_id,
            agents=tuple(input.agents or ()),
            correlation_id=input.correlation_id,
        )
        result = await run_control.start_execution(context.runtime, context.loaders, request)
        return _run_answer(RunAction.START, result)

    @strawberry.mutation(
        description="Cancel a run that has not finished (operator role).", directives=_OPERATOR
    )
    async def cancel_execution(
        self, info: Info[Context, None], input: CancelExecutionInput
    ) -> RunControlResult:
        context = info.context
        request = run_control.CancelRequest(
            execution_id=str(input.execution_id),
            reason=input.reason,
            caller=context.caller,
            request_id=context.request_id,
        )
        result = await run_control.cancel_execution(context.runtime, context.loaders, request)
        return _run_answer(RunAction.CANCEL, result)

    @strawberry.mutation(
        description="Start a finished run again from its definition and inputs, where the "
        "upstream shows them (operator role); once per idempotency key.",
        directives=_OPERATOR,
    )
    async def rerun_execution(
        self, info: Info[Context, None], input: RerunExecutionInput
    ) -> RunControlResult:
        context = info.context
        result = await run_control.rerun_execution(
            context.runtime,
            context.loaders,
            str(input.execution_id),
            input.idempotency_key,
            context.caller,
            context.request_id,
        )
        return _run_answer(RunAction.RERUN, result)

    @strawberry.mutation(
        description="Approve a pending approval (callers with the approver role).",
        directives=[_DECISION_COST],
    )
    async def approve(self, info: Info[Context, None], input: DecisionInput) -> DecisionResult:
        return await _decide(info, input, Decision.APPROVE)

    @strawberry.mutation(
        description="Reject a pending approval (callers with the approver role).",
        directives=[_DECISION_COST],
    )
    async def reject(self, info: Info[Context, None], input: DecisionInput) -> DecisionResult:
        return await _decide(info, input, Decision.REJECT)

    @strawberry.mutation(
        description="Several decisions in one call (at most the gateway's limits.max_decisions): "
        "one result per item, in order, each decided exactly once as approve or reject would, "
        "so one failure never hides the others. An approval named twice is refused the second "
        "time (DecisionInputInvalid).",
        directives=[_DECISION_COST, ListSize(sized_by="decisions")],
    )
    async def decide_many(
        self, info: Info[Context, None], decisions: list[DecisionItemInput]
    ) -> list[DecisionResult]:
        context = info.context
        allowed = context.runtime.config.limits.max_decisions
        if not decisions:
            raise bad_user_input("decisions: give at least one decision")
        if len(decisions) > allowed:
            raise limit_error(
                "max_decisions", allowed, f"decisions: {len(decisions)} decisions in one call"
            )
        requests = [
            deciding.DecisionRequest(
                approval_id=str(item.approval_id),
                decision=item.decision,
                notes=item.notes,
                caller=context.caller,
                request_id=context.request_id,
            )
            for item in decisions
        ]
        results = await deciding.decide_many(context.runtime, context.loaders, requests)
        return [_answer(result) for result in results]


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
        case deciding.Forbidden(denial=denial):
            return DecisionForbidden(code="FORBIDDEN", message=result.message, reason=denial)
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


def _run_answer(action: RunAction, result: run_control.Result) -> RunControlResult:
    """The run-control use case's result as the GraphQL union."""
    match result:
        case run_control.Started() | run_control.Cancelled():
            execution = (
                Execution.from_model(result.source, result.execution)
                if result.execution is not None
                else None
            )
            return RunControlSuccess(
                action=action,
                execution_id=strawberry.ID(ids.execution_id(result.source, result.native_id)),
                execution=execution,
                replayed=isinstance(result, run_control.Started) and result.replayed,
            )
        case run_control.AlreadyFinished():
            return RunAlreadyFinished(
                code="CONFLICT",
                message=result.message,
                final_status=result.status,
                execution=Execution.from_model(result.source, result.execution),
            )
        case run_control.NotFinished():
            return RunNotFinished(
                code="CONFLICT",
                message=result.message,
                execution=Execution.from_model(result.source, result.execution),
            )
        case run_control.Unsupported():
            return RunActionUnsupported(
                code="UNSUPPORTED", message=result.message, source=result.source, action=action
            )
        case run_control.NotFound():
            return RunNotFound(code="NOT_FOUND", message=result.message)
        case run_control.Forbidden():
            return RunForbidden(code="FORBIDDEN", message=result.message)
        case run_control.NotConfirmed(error=error):
            return RunNotConfirmed(
                code=error.code,
                message=f"{error.message}; not confirmed: it may or may not have happened",
                source=result.source,
            )
        case run_control.UpstreamFailed(error=error):
            return RunUpstreamFailure(
                code=error.code,
                message=f"{error.message}; nothing was done",
                source=result.source,
                http_status=error.http_status,
                retry_after=error.retry_after,
            )
        case run_control.KeyConflict():
            return IdempotencyKeyConflict(code="CONFLICT", message=result.message)
        case run_control.InvalidInput():
            return RunInputInvalid(
                code="BAD_USER_INPUT", message=result.message, field=result.field
            )
