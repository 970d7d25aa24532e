"""The decision use case: approve or reject one approval, checked, sent once, audited once.

GraphQL-free: ``decide_approval`` answers with a ``Result`` (one small dataclass per way a
decision can end) and ``gateway/schema/mutation.py`` maps it to the GraphQL union. Everything the
gateway can check itself (notes, id, capability, then the rules of ``decision_rules.permission``
against the approval read fresh from the upstream: role, scope, still waiting, declared reviewer,
own vote, four-eyes) is checked before the one upstream write, which goes through
``DecisionService`` (single flight, idempotency key, confirmation window). The same rules answer
``Approval.viewerCanDecide``, so the two never disagree. Every attempt, refused or not, writes
exactly one audit record, built from its result. ``decide_many`` runs several, each its own
attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.base import Decision
from adapters.errors import ExecutionNotFound, UpstreamConflict, UpstreamError, UpstreamForbidden
from adapters.model import ApprovalStatus
from gateway.core import decision_rules, ids
from gateway.core.decision_rules import Denial
from gateway.core.decisions import MAX_NOTES_LENGTH, Outcome

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from adapters.base import DecisionOutcome
    from adapters.model import Approval, Execution
    from gateway.core.caller import Caller
    from gateway.core.loaders import Loaders
    from gateway.core.runtime import Runtime

__all__ = [
    "AlreadyRecorded",
    "Decided",
    "DecisionRequest",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "NotWaiting",
    "RecordedOtherwise",
    "Result",
    "Unsupported",
    "UpstreamFailed",
    "audit_fields",
    "decide_approval",
    "decide_many",
]

DECIDE_MANY_CONCURRENCY = 8
"""Decisions of one ``decide_many`` in flight at once: enough to clear an inbox page quickly,
few enough that one call cannot crowd an upstream."""


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """One attempt as the caller asked for it: ``approval_id`` is the client's string, unchecked."""

    approval_id: str
    decision: Decision
    notes: str | None
    caller: Caller
    request_id: str


@dataclass(frozen=True, slots=True)
class Decided:
    """The upstream confirmed it; ``approval`` (matched by its key) and ``execution`` as re-read.

    ``approval.status`` stays PENDING when other mandatory reviewers still have to vote.
    """

    source: str
    execution: Execution
    approval: Approval


@dataclass(frozen=True, slots=True)
class AlreadyRecorded:
    """The upstream had this very decision already (a repeat is harmless); as re-read."""

    source: str
    execution: Execution
    approval: Approval


@dataclass(frozen=True, slots=True)
class RecordedOtherwise:
    """The upstream already holds this reviewer's vote and it is not the decision asked for now
    (``recorded`` names it), or the upstream does not say which it is (``recorded`` None).
    Nothing was recorded by this request: it must not read as success."""

    source: str
    execution: Execution
    approval: Approval
    requested: Decision
    recorded: Decision | None

    @property
    def message(self) -> str:
        if self.recorded is None:
            return (
                "this reviewer has already voted on this approval and the upstream does not say "
                f"which way; the {self.requested.value.lower()} was not recorded"
            )
        return (
            f"this reviewer already recorded {self.recorded.value.lower()} on this approval; the "
            f"{self.requested.value.lower()} was not recorded"
        )


@dataclass(frozen=True, slots=True)
class NotWaiting:
    """Decided already: seen before sending, or said by the upstream (``upstream`` is its refusal).

    ``execution`` and ``approval`` are the current state, when the gateway could read it.
    """

    source: str
    execution: Execution | None
    approval: Approval | None
    upstream: UpstreamError | None = None

    @property
    def message(self) -> str:
        if self.approval is None or self.approval.status is ApprovalStatus.PENDING:
            return "the approval was already decided"
        return f"the approval was already decided ({self.approval.status.value})"


@dataclass(frozen=True, slots=True)
class NotFound:
    source: str
    upstream: UpstreamError | None = None
    message: str = "no such approval"


@dataclass(frozen=True, slots=True)
class Forbidden:
    """A rule refuses (``denial``: no approver role, with ``source`` None as it is refused before
    reading the id; not a declared reviewer; four-eyes), or the upstream refuses (``upstream``)."""

    message: str
    source: str | None = None
    upstream: UpstreamError | None = None
    denial: Denial | None = None


@dataclass(frozen=True, slots=True)
class Unsupported:
    source: str
    message: str


@dataclass(frozen=True, slots=True)
class InvalidInput:
    field: str
    message: str
    source: str | None = None
    """The source the id names, when the id was well formed (for the audit record)."""


@dataclass(frozen=True, slots=True)
class UpstreamFailed:
    """The upstream could not confirm: treat the decision as not done."""

    source: str
    error: UpstreamError


Result = (
    Decided
    | AlreadyRecorded
    | RecordedOtherwise
    | NotWaiting
    | NotFound
    | Forbidden
    | Unsupported
    | InvalidInput
    | UpstreamFailed
)


async def decide_approval(
    runtime: Runtime,
    loaders: Loaders,
    request: DecisionRequest,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Result:
    """Decide once and write the attempt's one audit record (``clock`` times it)."""
    started = clock()
    result = await _attempt(runtime, loaders, request)
    runtime.decisions.audit(
        caller=request.caller.name,
        reviewer=request.caller.reviewer_id,
        approval=request.approval_id[:200],
        decision=request.decision.value,
        request_id=request.request_id,
        **audit_fields(result),
        duration_ms=round((clock() - started) * 1000, 1),
    )
    return result


async def _attempt(runtime: Runtime, loaders: Loaders, request: DecisionRequest) -> Result:
    ref = _check_request(request)
    if not isinstance(ref, ids.ApprovalRef):
        return ref
    source, native_id = ref.execution.source, ref.execution.native_id
    if source not in runtime.sources:
        return InvalidInput("approvalId", f"approvalId: unknown source '{source}'", source)
    if not runtime.decisions.supports(source):
        kind = runtime.sources[source].kind.value
        return Unsupported(source, f"source '{source}' ({kind}) has no approvals")

    # Decide against the upstream's current state, not a cached copy.
    await runtime.store.invalidate(source, native_id)
    before = await _read_fresh(loaders, source, native_id)
    if isinstance(before, ExecutionNotFound):
        return NotFound(source)
    if isinstance(before, UpstreamError):
        return UpstreamFailed(source, before)
    approval = before.approval(ref.key)
    if approval is None:
        return NotFound(source)
    permitted = await decision_rules.permission(runtime, request.caller, source, before, approval)
    if not permitted.allowed:
        return _denied(source, before, approval, request.decision, permitted)

    attempt = await runtime.decisions.decide(
        source=source,
        execution=before,
        approval=approval,
        approval_id=request.approval_id,
        decision=request.decision,
        caller=request.caller,
        notes=request.notes,
    )
    if attempt.error is not None:
        return await _refused(loaders, request, ref, attempt.error)
    assert attempt.outcome is not None
    return await _confirmed(loaders, ref, before, approval, attempt.outcome)


def _denied(
    source: str,
    execution: Execution,
    approval: Approval,
    requested: Decision,
    permitted: decision_rules.Permission,
) -> Result:
    """What a refusing rule makes of the attempt: nothing is sent upstream."""
    match permitted.denial:
        case Denial.OUT_OF_SCOPE:
            return NotFound(source)
        case Denial.NOT_WAITING:
            return NotWaiting(source, execution, approval)
        case Denial.ALREADY_VOTED:
            # The caller's vote is on record: a repeat of it is harmless, another is refused.
            recorded = _as_decision(permitted.recorded)
            if recorded is requested:
                return AlreadyRecorded(source, execution, approval)
            return RecordedOtherwise(source, execution, approval, requested, recorded)
        case _:
            message = permitted.message or "this client may not decide this approval"
            return Forbidden(message, source, denial=permitted.denial)


def _as_decision(status: ApprovalStatus | None) -> Decision | None:
    if status is ApprovalStatus.APPROVED:
        return Decision.APPROVE
    if status is ApprovalStatus.REJECTED:
        return Decision.REJECT
    return None


def _check_request(request: DecisionRequest) -> Forbidden | InvalidInput | ids.ApprovalRef:
    """The checks that need no configuration: role, notes, and the id's own shape."""
    caller = request.caller
    if not decision_rules.check_role(caller).allowed:
        return Forbidden(
            f"client '{caller.name}' lacks the approver role", denial=Denial.LACKS_ROLE
        )
    notes = request.notes
    if notes is not None and len(notes) > MAX_NOTES_LENGTH:
        return InvalidInput(
            "notes", f"notes: at most {MAX_NOTES_LENGTH} characters, got {len(notes)}"
        )
    try:
        ref = ids.parse_id(request.approval_id)
    except ids.InvalidId as exc:
        return InvalidInput("approvalId", str(exc))
    if not isinstance(ref, ids.ApprovalRef):
        return InvalidInput("approvalId", "approvalId: expected an approval id (Approval.id)")
    return ref


async def _read_fresh(loaders: Loaders, source: str, native_id: str) -> Execution | UpstreamError:
    """The execution as the upstream has it now (this request's earlier copy is dropped too)."""
    loaders.forget(source, native_id)
    try:
        return await loaders.execution(source, native_id)
    except UpstreamError as exc:
        return exc


async def _refused(
    loaders: Loaders, request: DecisionRequest, ref: ids.ApprovalRef, error: UpstreamError
) -> Result:
    source = ref.execution.source
    if isinstance(error, UpstreamConflict):
        current = await _read_fresh(loaders, source, ref.execution.native_id)
        if isinstance(current, UpstreamError):
            return NotWaiting(source, None, None, upstream=error)
        return NotWaiting(source, current, current.approval(ref.key), upstream=error)
    if isinstance(error, UpstreamForbidden):
        reviewer = request.caller.reviewer_id
        message = f"the upstream does not accept decisions from reviewer '{reviewer}'"
        return Forbidden(message, source=source, upstream=error)
    if isinstance(error, ExecutionNotFound):
        return NotFound(source, upstream=error)
    return UpstreamFailed(source, error)


async def _confirmed(
    loaders: Loaders,
    ref: ids.ApprovalRef,
    before: Execution,
    approval: Approval,
    outcome: DecisionOutcome,
) -> Decided | AlreadyRecorded | RecordedOtherwise:
    """The decided approval (by its own key) and its execution, re-read after the decision.

    When the re-read fails, or no longer shows the approval, the pre-decision copies stand in,
    with the status the upstream confirmed where its reply said it.
    """
    source = ref.execution.source
    after = await _read_fresh(loaders, source, ref.execution.native_id)
    execution = before if isinstance(after, UpstreamError) else after
    decided = execution.approval(ref.key)
    if decided is None or (execution is before and outcome.approval_status is not None):
        decided = dataclasses.replace(approval, status=outcome.approval_status or approval.status)
    if outcome.already_recorded:
        if outcome.requested is not None and outcome.matches_request is not True:
            return RecordedOtherwise(
                source, execution, decided, outcome.requested, outcome.recorded_decision
            )
        return AlreadyRecorded(source, execution, decided)
    return Decided(source, execution, decided)


def audit_fields(result: Result) -> dict[str, object]:
    """What the audit record says about how the attempt ended (besides who asked for what)."""
    match result:
        case Decided(source=source, approval=approval):
            pending = approval.status is ApprovalStatus.PENDING
            outcome = Outcome.VOTE_RECORDED if pending else Outcome.DECIDED
            return _fields(source, outcome, approval_status=approval.status.value)
        case AlreadyRecorded(source=source, approval=approval):
            return _fields(source, Outcome.ALREADY_RECORDED, approval_status=approval.status.value)
        case RecordedOtherwise(source=source, approval=approval, recorded=recorded):
            fields = _fields(
                source, Outcome.RECORDED_OTHERWISE, approval_status=approval.status.value
            )
            fields["recorded_decision"] = recorded.value if recorded is not None else None
            return fields
        case NotWaiting(source=source, upstream=upstream):
            return _fields(source, Outcome.NOT_WAITING, upstream=upstream)
        case NotFound(source=source, upstream=upstream):
            return _fields(source, Outcome.NOT_FOUND, upstream=upstream)
        case Forbidden(source=source, upstream=upstream, denial=denial):
            fields = _fields(source, Outcome.FORBIDDEN, upstream=upstream)
            if denial is not None:
                fields["denial"] = denial.value
            return fields
        case Unsupported(source=source):
            return _fields(source, Outcome.UNSUPPORTED)
        case InvalidInput(source=source):
            return _fields(source, Outcome.INVALID)
        case UpstreamFailed(source=source, error=error):
            return _fields(source, Outcome.UPSTREAM_FAILED, upstream=error)


def _fields(
    source: str | None,
    outcome: Outcome,
    *,
    upstream: UpstreamError | None = None,
    approval_status: str | None = None,
) -> dict[str, object]:
    fields: dict[str, object] = {"outcome": outcome.value}
    if source is not None:
        fields["source"] = source
    if upstream is not None:
        fields["upstream_status"] = upstream.http_status
        fields["upstream_code"] = upstream.upstream_code
    if approval_status is not None:
        fields["approval_status"] = approval_status
    return fields


async def decide_many(
    runtime: Runtime,
    loaders: Loaders,
    requests: Sequence[DecisionRequest],
    *,
    concurrency: int = DECIDE_MANY_CONCURRENCY,
) -> list[Result]:
    """Each request decided as ``decide_approval`` decides one (its own checks, its own single
    upstream write, its own audit record), at most ``concurrency`` at once; one result per
    request, in order, so one failure never hides the others. An approval named a second time in
    the same call is refused (``InvalidInput``) rather than decided again."""
    gate = asyncio.Semaphore(concurrency)
    seen: set[str] = set()
    duplicates: set[int] = set()
    for index, request in enumerate(requests):
        if request.approval_id in seen:
            duplicates.add(index)
        seen.add(request.approval_id)

    async def one(index: int, request: DecisionRequest) -> Result:
        if index in duplicates:
            result: Result = InvalidInput(
                "approvalId", "approvalId: named earlier in this call; it is decided once"
            )
            runtime.decisions.audit(
                caller=request.caller.name,
                reviewer=request.caller.reviewer_id,
                approval=request.approval_id[:200],
                decision=request.decision.value,
                request_id=request.request_id,
                **audit_fields(result),
                duration_ms=0.0,
            )
            return result
        async with gate:
            return await decide_approval(runtime, loaders, request)

    return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))
