"""Velt Approval Engine (``/v2/workflow/...``), the Velt-style upstream.

Docs: ``shared/upstreams/velt.txt`` and notes §2. Quirks we bend to:
- every endpoint is a ``POST`` with ``{"data": {...}}``; replies are ``{"result": ...}`` or
  ``{"error": {message, status, details}}`` (the Firebase callable shape), and the error's canonical
  ``status`` word says more than the HTTP status, which Velt does not document; an error envelope may
  even come with HTTP 200, so a 2xx body is checked for it too;
- there is no waiting execution status: a run blocked on a human stays ``running``, and waiting is
  derived from a ``human`` step in ``waiting``; ``waiting`` on agent and webhook steps just means busy;
- a rejected human step ends ``completed`` with ``output.decision = "reject"``: the step stays
  COMPLETED and the rejection lives on its Approval;
- approvals are per step and per reviewer: a vote can be recorded while the step still waits for
  other mandatory reviewers, and ``recorded: false`` is an answer whose ``rejectionReason``
  (``idempotent``, ``already-terminal``, ``unknown-responder``, ``aggregator-missing``) says why,
  not an error;
- once the aggregator settles a human step its output carries ``aggregatorStatus``/``decision``,
  but the step reads ``waiting`` until the run resumes: the approval is decided from the output;
- no per-reviewer vote list is documented, only aggregates (``rejectedBy``, ``approveCount``,
  ``mandatoryApproveCount``): a reviewer's decision is filled only where they pin it down; a
  reviewer Velt says has voted (``idempotent``) approved unless ``rejectedBy`` names them, since
  any rejection settles the step;
- times are epoch milliseconds; list items carry no steps (``steps: []``), so a page is incomplete;
- a deadline (``slaMs``) lives only on the definition's node, not on the run or its steps, and
  ``definitions/get`` serves only the current version (old versions are not readable): a run
  pinned to an older version gets no ``due_at``. A ``breached`` human step missed its deadline:
  terminal, nobody approved, so its Approval reads REJECTED with nobody as the decider.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

from adapters._parse import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    duration_ms_between,
    epoch_ms,
    error_info,
    normalize_word,
    require_dict,
    require_str,
)
from adapters.base import (
    Capability,
    Credentials,
    Decision,
    DecisionOutcome,
    EventPage,
    ExecutionPage,
    RunAction,
    SourceAdapter,
    StartOutcome,
    StartRequest,
    UpstreamEvent,
)
from adapters.declarations import SHA256_PREFIXED, Secret, WebhookEvent, Webhooks
from adapters.errors import (
    ExecutionNotFound,
    PayloadError,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamForbidden,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import (
    Approval,
    ApprovalStatus,
    Execution,
    ExecutionStatus,
    Reviewer,
    SourceKind,
    Step,
    StepKind,
    StepStatus,
    Workflow,
)
from adapters.webhook_parsing import event_body, identified, member, ms_seconds, text

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from adapters.engine import SourceHTTP
    from adapters.transports import TransportResponse

__all__ = [
    "CANCEL_PATH",
    "DECIDE_PATH",
    "DEFINITION_PATH",
    "DEFINITION_TTL_S",
    "DISPATCH_PATH",
    "EVENTS_PATH",
    "GET_PATH",
    "LIST_PATH",
    "MAX_EVENTS_PAGE",
    "MAX_PAGE_SIZE",
    "MAX_SLA_MS",
    "DefinitionSLAs",
    "VeltAdapter",
    "VeltOptions",
    "parse_definition",
    "parse_dispatch_reply",
    "parse_event_page",
    "parse_execution",
    "parse_execution_page",
    "read_velt_event",
    "with_deadlines",
]

GET_PATH = "/v2/workflow/executions/get"
LIST_PATH = "/v2/workflow/executions/list"
DECIDE_PATH = "/v2/workflow/steps/recordReviewerDecision"
EVENTS_PATH = "/v2/workflow/executions/getEvents"
DISPATCH_PATH = "/v2/workflow/executions/dispatch"
CANCEL_PATH = "/v2/workflow/executions/cancel"
DEFINITION_PATH = "/v2/workflow/definitions/get"
DEFINITION_TTL_S = 600.0
"""How long a read definition is kept: an update shows up within this, or at once for a run
pinned to a newer version than the one kept."""
DEFINITION_ENTRIES = 1_000
MAX_SLA_MS = 7 * 24 * 3600 * 1000
"""The documented bound of a node's ``slaMs`` (7 days); a value outside 1..this is ignored."""
MAX_CANCEL_REASON = 500
"""The documented bound of a cancel's ``reason``."""
MAX_EVENTS_PAGE = 500
"""The documented ``pageSize`` bound of ``getEvents``."""
MAX_PAGE_SIZE = 500

_EXECUTION_STATUS = {
    "pending": ExecutionStatus.PENDING,
    "running": ExecutionStatus.RUNNING,
    "completed": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "canceled": ExecutionStatus.CANCELLED,
}

_STEP_STATUS = {
    "pending": StepStatus.PENDING,
    "running": StepStatus.RUNNING,
    "waiting": StepStatus.RUNNING,  # human steps: WAITING_FOR_APPROVAL, see _parse_step
    "completed": StepStatus.COMPLETED,
    "failed": StepStatus.FAILED,
    "skipped": StepStatus.SKIPPED,
    "cancelled": StepStatus.CANCELLED,
    "canceled": StepStatus.CANCELLED,
    "breached": StepStatus.TIMED_OUT,  # the step's SLA (slaMs) ran out: terminal
}

_NODE_KIND = {
    "agent": StepKind.AGENT,
    "human": StepKind.HUMAN_APPROVAL,
    "notification": StepKind.NOTIFICATION,
    "webhook": StepKind.WEBHOOK,
}

# The unified status → the word Velt's list filter takes. WAITING_FOR_APPROVAL runs are
# ``running`` upstream (the caller filters); TIMED_OUT and UNKNOWN have no Velt word: no filter.
_STATUS_FILTER = {
    ExecutionStatus.PENDING: "pending",
    ExecutionStatus.RUNNING: "running",
    ExecutionStatus.WAITING_FOR_APPROVAL: "running",
    ExecutionStatus.COMPLETED: "completed",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.CANCELLED: "cancelled",
}

_AGGREGATOR_STATUS = {
    "pending": ApprovalStatus.PENDING,
    "resolved": ApprovalStatus.APPROVED,
    "approved": ApprovalStatus.APPROVED,
    "rejected": ApprovalStatus.REJECTED,
}


def _unwrap(payload: Any, what: str) -> dict[str, Any]:
    """The ``{"result": …}`` envelope's content, or the bare object when there is no envelope."""
    data = require_dict(payload, what)
    result = as_dict(data.get("result"))
    return result if result is not None else data


def parse_execution(payload: Any) -> Execution:
    """An ``executions/get`` reply (``{"result": ExecutionView}``) or a bare ExecutionView → Execution."""
    data = _unwrap(payload, "execution")
    native_id = require_str(data, "executionId")
    upstream_status = as_str(data.get("status"))
    found = [s for s in as_list(data.get("steps")) if isinstance(s, dict)]
    steps = tuple(_parse_step(i, s) for i, s in enumerate(found))

    status = _EXECUTION_STATUS.get(normalize_word(upstream_status) or "", ExecutionStatus.UNKNOWN)
    if status is ExecutionStatus.RUNNING and any(
        s.status is StepStatus.WAITING_FOR_APPROVAL for s in steps
    ):
        status = ExecutionStatus.WAITING_FOR_APPROVAL

    started_at = epoch_ms(data.get("startedAt"))
    completed_at = epoch_ms(data.get("completedAt")) or epoch_ms(data.get("cancelledAt"))
    version = data.get("definitionVersion")
    definition_id = as_str(data.get("definitionId"))
    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=upstream_status,
        raw=data,
        workflow=Workflow(id=definition_id, version=as_str(version))
        if definition_id is not None or version is not None
        else None,
        steps=steps,
        approvals=tuple(a for a in (_approval(s) for s in steps) if a is not None),
        created_at=started_at,
        started_at=started_at,
        completed_at=completed_at,
        duration_ms=duration_ms_between(started_at, completed_at),
        error=error_info(data.get("failureReason")),
        correlation_id=as_str(data.get("correlationId")),
        idempotency_key=as_str(data.get("idempotencyKey")),
    )


def parse_event_page(payload: Any) -> EventPage:
    """A ``getEvents`` reply → its events (``seq``, ``type``, ``stepId``, ``timestamp`` in ms,
    ``data``) and where the next page starts; ``seq`` has gaps (internal events are filtered)."""
    data = _unwrap(payload, "event list")
    raw = data.get("events")
    if not isinstance(raw, list):
        raise PayloadError("missing required field 'events'")
    events = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("seq"), int):
            raise PayloadError("an event without an integer 'seq'")
        events.append(
            UpstreamEvent(
                seq=item["seq"],
                type=as_str(item.get("type")) or "unknown",
                step_native_id=as_str(item.get("stepId")),
                at=epoch_ms(item.get("timestamp")),
                data=item.get("data"),
            )
        )
    more = data.get("hasMore") is True and bool(events)
    return EventPage(events=tuple(events), next_seq=events[-1].seq if more else None)


def parse_execution_page(payload: Any) -> ExecutionPage:
    """An ``executions/list`` reply → one page; its items carry no steps, so it is incomplete."""
    data = _unwrap(payload, "execution list")
    items = data.get("items")
    if not isinstance(items, list):
        raise PayloadError("missing required field 'items'")
    return ExecutionPage(
        items=tuple(parse_execution(item) for item in items),
        next_cursor=as_str(data.get("nextCursor")) or None,
        complete=False,
    )


@dataclass(frozen=True, slots=True)
class DefinitionSLAs:
    """What a ``definitions/get`` reply says about deadlines: the version it is, and each human
    node's ``slaMs`` (nodes without one are absent)."""

    version: int | None
    human_sla_ms: Mapping[str, int]


def parse_definition(payload: Any) -> DefinitionSLAs:
    """A ``definitions/get`` reply (``{"result": DefinitionView}``) → its version and human SLAs.

    ``slaMs`` sits on the node beside ``nodeId``/``type``/``config``; only ``human`` nodes make
    approval deadlines. A value that is not an integer in 1..``MAX_SLA_MS`` is ignored.
    """
    data = _unwrap(payload, "definition")
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise PayloadError("missing required field 'nodes'")
    slas: dict[str, int] = {}
    for node in nodes:
        item = as_dict(node) or {}
        node_id = as_str(item.get("nodeId"))
        sla = item.get("slaMs")
        if (
            node_id
            and normalize_word(item.get("type")) == "human"
            and isinstance(sla, int)
            and not isinstance(sla, bool)
            and 0 < sla <= MAX_SLA_MS
        ):
            slas[node_id] = sla
    version = data.get("version")
    return DefinitionSLAs(
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        human_sla_ms=slas,
    )


def with_deadlines(execution: Execution, human_sla_ms: Mapping[str, int]) -> Execution:
    """Each approval whose human node states an SLA is due at its step's start plus it."""
    if not human_sla_ms or not execution.approvals:
        return execution
    steps = {s.native_id: s for s in execution.steps}
    approvals = []
    for approval in execution.approvals:
        step = steps.get(approval.step_native_id or approval.key)
        sla = human_sla_ms.get(step.name or "") if step is not None else None
        if step is not None and step.started_at is not None and sla is not None:
            approval = dataclasses.replace(
                approval, due_at=step.started_at + timedelta(milliseconds=sla)
            )
        approvals.append(approval)
    return dataclasses.replace(execution, approvals=tuple(approvals))


def _pinned_version(execution: Execution) -> tuple[str, int] | None:
    """The run's ``(definitionId, definitionVersion)``, when it shows both."""
    workflow = execution.workflow
    version = as_int(workflow.version) if workflow is not None else None
    if workflow is None or not workflow.id or version is None:
        return None
    return workflow.id, version


_UNSET: Any = object()
"""A cache miss, told apart from a kept None (a definition that could not be read)."""

_UNREADABLE = (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamForbidden,
    UpstreamRejected,
    UpstreamBadResponse,
)
"""Failures of ``definitions/get`` that asking again soon would repeat (gone or tombstoned, not
ours to read, a reply we cannot read): kept for the TTL. Others (timeouts, 5xx, rate limits, the
operation's call budget) are not kept: the next read of a run asks again."""


def _parse_step(index: int, data: dict[str, Any]) -> Step:
    node_type = as_str(data.get("nodeType"))
    kind = _NODE_KIND.get(normalize_word(node_type) or "", StepKind.UNKNOWN)
    upstream_status = as_str(data.get("status"))
    word = normalize_word(upstream_status) or ""
    output = data.get("output")
    if word == "waiting" and kind is StepKind.HUMAN_APPROVAL:
        # Once the aggregator has settled, the step reads ``waiting`` only until the run resumes:
        # no human is waited on any more, so it is RUNNING (resuming), not waiting for approval.
        settled = _settled(as_dict(output) or {})
        status = StepStatus.WAITING_FOR_APPROVAL if settled is None else StepStatus.RUNNING
    else:
        status = _STEP_STATUS.get(word, StepStatus.UNKNOWN)
    node_id = as_str(data.get("nodeId"))
    started_at = epoch_ms(data.get("startedAt"))
    completed_at = epoch_ms(data.get("completedAt"))
    agent_id = as_str(output.get("agentId")) if isinstance(output, dict) else None
    return Step(
        native_id=as_str(data.get("stepId")) or f"{node_id or 'step'}#{index}",
        index=index,
        name=node_id,
        kind=kind,
        status=status,
        upstream_status=upstream_status,
        upstream_kind=node_type,
        output=output,
        error=error_info(data.get("error")),
        started_at=started_at,
        completed_at=completed_at,
        duration_ms=duration_ms_between(started_at, completed_at),
        group_id=as_str(data.get("groupId")),
        agent_id=agent_id if kind is StepKind.AGENT else None,
    )


def _settled(output: dict[str, Any]) -> ApprovalStatus | None:
    """APPROVED/REJECTED once the output shows the aggregator's result, else None.

    The documented resolution fields are ``aggregatorStatus`` (``resolved``/``rejected``; the
    reply's ``pending`` means not yet), ``decision`` (``approve``/``reject``) and ``approved``.
    """
    if _is_rejection(output):
        return ApprovalStatus.REJECTED
    aggregator = _AGGREGATOR_STATUS.get(normalize_word(output.get("aggregatorStatus")) or "")
    if (
        aggregator is ApprovalStatus.APPROVED
        or normalize_word(output.get("decision")) in ("approve", "approved")
        or as_bool(output.get("approved")) is True
    ):
        return ApprovalStatus.APPROVED
    return None


def _approval(step: Step) -> Approval | None:
    """The Approval a ``human`` step stands for: PENDING while it waits, decided once settled.

    A step the aggregator settled is decided even while it still reads ``waiting`` (Velt resumes
    the run asynchronously: ``resumeScheduled``). A completed step without a rejection marker is
    APPROVED. A ``breached`` step missed its deadline: terminal and not approved, it reads
    REJECTED with no decider (its step says TIMED_OUT). Human steps that never waited or ended
    without a decision (pending, running, skipped, cancelled, failed) have none: nothing waits on
    them and nobody decided.
    """
    if step.kind is not StepKind.HUMAN_APPROVAL:
        return None
    output = as_dict(step.output) or {}
    settled = _settled(output)
    if normalize_word(step.upstream_status) == "waiting":
        status = settled or ApprovalStatus.PENDING
    elif step.status is StepStatus.COMPLETED:
        status = settled or ApprovalStatus.APPROVED
    elif step.status is StepStatus.TIMED_OUT:
        status = ApprovalStatus.REJECTED
    else:
        return None
    reviewers = _reviewers(output, status)

    decided_by: str | None = None
    decided_at: datetime | None = None
    if step.status is StepStatus.TIMED_OUT:
        pass  # the clock settled it: nobody decided
    elif status is ApprovalStatus.REJECTED:
        decided_by = as_str(output.get("rejectedBy")) or _sole_voter(reviewers, status)
    elif status is ApprovalStatus.APPROVED:
        decided_by = _sole_voter(reviewers, status)
    if status is not ApprovalStatus.PENDING:
        decided_at = step.completed_at or epoch_ms(output.get("resumedAt"))

    approve_count = as_int(output.get("approveCount"))
    reject_count = as_int(output.get("rejectCount"))
    required_count = as_int(output.get("mandatoryCount"))
    if reviewers:
        if approve_count is None:
            approve_count = sum(r.decision is ApprovalStatus.APPROVED for r in reviewers)
        if reject_count is None:
            reject_count = sum(r.decision is ApprovalStatus.REJECTED for r in reviewers)
        if required_count is None:
            required_count = sum(r.mandatory is True for r in reviewers)

    return Approval(
        key=step.native_id,
        status=status,
        step_native_id=step.native_id,
        reviewers=reviewers,
        requested_at=step.started_at,
        decided_at=decided_at,
        decided_by=decided_by,
        notes=as_str(output.get("commentBody")),
        approve_count=approve_count,
        reject_count=reject_count,
        required_count=required_count,
    )


def _is_rejection(output: dict[str, Any]) -> bool:
    return (
        normalize_word(output.get("decision")) in ("reject", "rejected")
        or as_bool(output.get("approved")) is False
        or normalize_word(output.get("aggregatorStatus")) == "rejected"
    )


def _declared(output: dict[str, Any]) -> dict[str, bool | None]:
    """Declared reviewers → mandatory: ``reviewers[{userId, mandatory}]``, else the legacy
    ``reviewerIds[]`` (all mandatory, as the definition's legacy form means)."""
    found: dict[str, bool | None] = {}
    for entry in as_list(output.get("reviewers")):
        if isinstance(entry, str) and entry:
            found.setdefault(entry, None)
            continue
        item = as_dict(entry) or {}
        user = as_str(item.get("userId"))
        if user:
            found.setdefault(user, as_bool(item.get("mandatory")))
    if not found:
        for entry in as_list(output.get("reviewerIds")):
            user = as_str(entry)
            if user:
                found.setdefault(user, True)
    return found


def _reviewers(output: dict[str, Any], status: ApprovalStatus) -> tuple[Reviewer, ...]:
    """Declared reviewers, each with the decision the output shows for them.

    Velt documents no per-reviewer vote list, only aggregates, so a decision is filled where the
    aggregates pin it down: ``rejectedBy`` rejected; a resolved (approved) step means every
    mandatory reviewer approved (the documented rule); ``mandatoryApproveCount`` equal to the
    mandatory reviewers not known to have rejected means all of them approved, and likewise
    ``approveCount - mandatoryApproveCount`` for the optional ones. Anything else stays None
    (not voted, or not known).
    """
    declared = _declared(output)
    votes: dict[str, ApprovalStatus] = {}
    rejected_by = as_str(output.get("rejectedBy"))
    if rejected_by and rejected_by in declared:
        votes[rejected_by] = ApprovalStatus.REJECTED
    mandatory = [u for u, m in declared.items() if m is True and u not in votes]
    optional = [u for u, m in declared.items() if m is not True and u not in votes]
    mandatory_approvals = as_int(output.get("mandatoryApproveCount"))
    if status is ApprovalStatus.APPROVED and mandatory_approvals is None:
        mandatory_approvals = len(mandatory)
    if mandatory and mandatory_approvals == len(mandatory):
        votes.update(dict.fromkeys(mandatory, ApprovalStatus.APPROVED))
    approvals = as_int(output.get("approveCount"))
    if (
        optional
        and approvals is not None
        and mandatory_approvals is not None
        and approvals - mandatory_approvals == len(optional)
    ):
        votes.update(dict.fromkeys(optional, ApprovalStatus.APPROVED))
    return tuple(
        Reviewer(id=user, mandatory=mandatory_flag, decision=votes.get(user))
        for user, mandatory_flag in declared.items()
    )


def _sole_voter(reviewers: tuple[Reviewer, ...], status: ApprovalStatus) -> str | None:
    """The reviewer who settled it, when only one reviewer is known to have voted that way."""
    voters = [r.id for r in reviewers if r.decision is status]
    return voters[0] if len(voters) == 1 else None


_ERROR_STATUS: dict[str, type[UpstreamError]] = {
    "NOT_FOUND": ExecutionNotFound,
    "INVALID_ARGUMENT": UpstreamRejected,
    "OUT_OF_RANGE": UpstreamRejected,
    "PERMISSION_DENIED": UpstreamAuthFailed,
    "UNAUTHENTICATED": UpstreamAuthFailed,
    "FAILED_PRECONDITION": UpstreamConflict,
    "ALREADY_EXISTS": UpstreamConflict,
    "ABORTED": UpstreamConflict,
    "RESOURCE_EXHAUSTED": UpstreamRateLimited,
    "DEADLINE_EXCEEDED": UpstreamTimeout,
    "INTERNAL": UpstreamUnavailable,
    "UNAVAILABLE": UpstreamUnavailable,
}


def _error_from_body(body: Any) -> UpstreamError | None:
    """``{"error": {message, status}}``: the canonical ``status`` word decides and is kept.

    The message is not carried over: it is upstream text and may echo what was sent.
    """
    error = as_dict(body.get("error")) if isinstance(body, dict) else None
    if error is None:
        return None
    word = as_str(error.get("status"))
    kind = _ERROR_STATUS.get((word or "").upper().replace("-", "_"))
    return kind(upstream_code=word) if kind is not None else None


@dataclass(frozen=True, slots=True)
class _DecisionReply:
    recorded: bool
    aggregator_status: ApprovalStatus | None
    resume_scheduled: bool
    rejection_reason: str | None


def _parse_decision_reply(payload: Any) -> _DecisionReply:
    """``{recorded, aggregatorStatus, resumeScheduled, rejectionReason?}``, as documented."""
    data = _unwrap(payload, "decision reply")
    recorded = as_bool(data.get("recorded"))
    if recorded is None:
        raise PayloadError("missing required field 'recorded'")
    return _DecisionReply(
        recorded=recorded,
        aggregator_status=_AGGREGATOR_STATUS.get(
            normalize_word(data.get("aggregatorStatus")) or ""
        ),
        resume_scheduled=as_bool(data.get("resumeScheduled")) is True,
        rejection_reason=as_str(data.get("rejectionReason")),
    )


_REFUSALS: dict[str, type[UpstreamError]] = {
    "already-terminal": UpstreamConflict,
    "aggregator-missing": UpstreamConflict,
    "unknown-responder": UpstreamForbidden,
}
"""``recorded: false`` reasons other than ``idempotent``: the step no longer takes votes
(already-terminal; aggregator-missing: no aggregator waits for votes on it), or Velt does not know
this reviewer on the step (unknown-responder)."""


def parse_dispatch_reply(payload: Any) -> StartOutcome:
    """``{executionId, correlationId, deduplicated}``: the run's id only, no ExecutionView."""
    data = _unwrap(payload, "dispatch reply")
    return StartOutcome(
        native_id=require_str(data, "executionId"),
        execution=None,
        deduplicated=as_bool(data.get("deduplicated")) is True,
    )


WEBHOOK_EVENT_TYPES = frozenset(
    {
        "execution.dispatched",
        "execution.completed",
        "execution.failed",
        "execution.cancelled",
        "step.awaiting-approval",
        "step.completed",
        "step.failed",
        "step.breached",
        "step.cancelled",
        "group.quorum-met",
        "loop.iteration-started",
        "loop.exhausted",
    }
)
"""Velt's external events (the approval engine's webhooks page)."""
WEBHOOK_REPLAY_WINDOW_S = 3600.0
"""Velt retries 2 s, 8 s, 32 s, 2 min and 8 min after the first attempt (10 s timeout each): its
last attempt leaves ~12 min after the event, so an hour leaves room for queueing and clock skew."""


def read_velt_event(body: Any) -> WebhookEvent:
    """A signed webhook body, ``{"eventId", "seq", "type", "stepId", "timestamp" (ms),
    "executionId", "correlationId", "data"}``: the event id is ``eventId``, else
    ``<executionId>#<seq>`` (Velt: "dedupe on eventId or (executionId, seq)"); the unsigned
    ``x-velt-event-id`` header is not read. The execution is ``executionId`` (or
    ``data.executionId``)."""
    event = event_body(body)
    data = member(event.get("data"))
    native_id = text(event.get("executionId")) or text(data.get("executionId"))
    seq = event.get("seq")
    has_seq = isinstance(seq, int) and not isinstance(seq, bool)
    keyed = f"{native_id}#{seq}" if native_id and has_seq else None
    event_id, type_ = identified(text(event.get("eventId")) or keyed, text(event.get("type")))
    known = type_ in WEBHOOK_EVENT_TYPES
    return WebhookEvent(event_id, type_, native_id, known, ms_seconds(event.get("timestamp")))


@dataclass(frozen=True, slots=True)
class VeltOptions:
    deadlines_from_definition: bool = False
    """Approvals' ``dueAt`` from the definition's ``slaMs`` (one cached ``definitions/get`` per
    definition, a call the gate's estimates do not count)."""


class VeltAdapter(SourceAdapter):
    """Run control: ``executions/dispatch`` takes the gateway's key as ``idempotencyKey``
    (Velt answers a repeat with the first run, ``deduplicated: true``) and ``executions/cancel``
    is a no-op on a finished run. No re-run: an ExecutionView shows its ``definitionId`` but not
    the ``triggerContext`` it was dispatched with."""

    kind = SourceKind.VELT
    secrets = (Secret("api_key"), Secret("auth_token"))
    options_type = VeltOptions
    options: VeltOptions
    capabilities = frozenset({Capability.GET, Capability.LIST, Capability.APPROVE})
    actions = frozenset({RunAction.START, RunAction.CANCEL})
    start_deduplicates = True
    webhooks = Webhooks(
        "x-velt-signature",
        SHA256_PREFIXED,
        read_velt_event,
        covers_every_change=True,
        replay_window_s=WEBHOOK_REPLAY_WINDOW_S,
    )
    """``x-velt-signature: sha256=<hex>``; every state change, approvals included, is an event."""

    def __init__(self, name: str, http: SourceHTTP, options: object | None = None) -> None:
        super().__init__(name, http, options)
        self._deadlines = self.options.deadlines_from_definition
        """With the option ``deadlines_from_definition``, approvals get ``due_at`` from their
        human node's ``slaMs``."""
        self._definitions: TTLCache[str, DefinitionSLAs | None] = TTLCache(
            maxsize=DEFINITION_ENTRIES, ttl=DEFINITION_TTL_S
        )
        """definitionId → its current version's SLAs as last read; None: not readable."""
        self._definition_reads: dict[str, asyncio.Task[DefinitionSLAs | None]] = {}

    async def _with_deadlines(self, execution: Execution) -> Execution:
        """Give the run's approvals their ``due_at`` from its definition, read once per
        definition (and again only when a run is pinned to a newer version than the one kept).

        ``definitions/get`` takes no version and serves the current one: a run pinned to another
        version gets no deadline rather than a wrong one. A failed read degrades to none.
        """
        pinned = _pinned_version(execution) if self._deadlines else None
        if pinned is None or not any(a.step_native_id for a in execution.approvals):
            return execution
        definition_id, version = pinned
        known = self._definitions.get(definition_id, _UNSET)
        if known is _UNSET or (
            isinstance(known, DefinitionSLAs)
            and known.version is not None
            and known.version < version
        ):
            known = await self._read_definition(definition_id)
        if not isinstance(known, DefinitionSLAs) or known.version != version:
            return execution
        return with_deadlines(execution, known.human_sla_ms)

    async def _read_definition(self, definition_id: str) -> DefinitionSLAs | None:
        """One ``definitions/get`` per definition at a time: concurrent reads share it."""
        task = self._definition_reads.get(definition_id)
        if task is None:
            task = asyncio.create_task(self._fetch_definition(definition_id))
            self._definition_reads[definition_id] = task
            task.add_done_callback(lambda _: self._definition_reads.pop(definition_id, None))
        return await asyncio.shield(task)

    async def _fetch_definition(self, definition_id: str) -> DefinitionSLAs | None:
        try:
            payload = await self._call(
                DEFINITION_PATH, {"definitionId": definition_id}, None, idempotent=True
            )
            definition = self.parsed(parse_definition, payload, None)
        except _UNREADABLE:
            self._definitions[definition_id] = None
            return None
        except UpstreamError:
            return None  # not kept: the next read of a run of this definition asks again
        self._definitions[definition_id] = definition
        return definition

    @staticmethod
    def auth_headers(credentials: Credentials) -> Mapping[str, str]:
        return {
            "x-velt-api-key": credentials.get("api_key", ""),
            "x-velt-auth-token": credentials.get("auth_token", ""),
            "content-type": "application/json",
        }

    @staticmethod
    def read_error(response: TransportResponse, body: Any) -> UpstreamError | None:
        """The body's ``error.status`` first; an unknown word falls back to the HTTP status."""
        return _error_from_body(body)

    async def _call(
        self, path: str, data: dict[str, Any], native_id: str | None, *, idempotent: bool = False
    ) -> Any:
        """POST ``{"data": …}``; an error envelope in a 2xx reply raises like any other error.

        Velt reads are POSTs too: ``idempotent=True`` lets the engine retry them; decisions never.
        """
        body = await self.http.request_json(
            "POST", path, json={"data": data}, native_id=native_id, idempotent=idempotent
        )
        if isinstance(body, dict) and "error" in body and "result" not in body:
            error = _error_from_body(body)
            if error is None:
                word = as_str((as_dict(body.get("error")) or {}).get("status"))
                error = UpstreamBadResponse(
                    "an error envelope Velt did not classify", upstream_code=word
                )
            error.source = self.name
            error.native_id = native_id
            raise error
        return body

    async def get_execution(self, native_id: str) -> Execution:
        payload = await self._call(GET_PATH, {"executionId": native_id}, native_id, idempotent=True)
        return await self._with_deadlines(self.parsed(parse_execution, payload, native_id))

    async def events_page(self, native_id: str, *, since_seq: int, page_size: int) -> EventPage:
        """One page of the execution's own event log (``executions/getEvents``), after ``since_seq``."""
        data = {
            "executionId": native_id,
            "sinceSeq": max(since_seq, 0),
            "pageSize": min(max(page_size, 1), MAX_EVENTS_PAGE),
        }
        payload = await self._call(EVENTS_PATH, data, native_id, idempotent=True)
        return self.parsed(parse_event_page, payload, native_id)

    async def list_executions(
        self, *, cursor: str | None, page_size: int, status: ExecutionStatus | None = None
    ) -> ExecutionPage:
        data: dict[str, Any] = {"pageSize": min(max(page_size, 1), MAX_PAGE_SIZE)}
        if cursor:
            data["cursor"] = cursor
        word = _STATUS_FILTER.get(status) if status is not None else None
        if word is not None:
            data["status"] = word
        payload = await self._call(LIST_PATH, data, None, idempotent=True)
        return self.parsed(parse_execution_page, payload, None)

    async def decide(
        self,
        execution: Execution,
        approval: Approval,
        decision: Decision,
        *,
        reviewer_id: str | None,
        notes: str | None,
        idempotency_key: str,
    ) -> DecisionOutcome:
        """Record one reviewer's vote on a human step.

        Velt has no idempotency header here: a reviewer's second vote is answered
        ``recorded: false, rejectionReason: idempotent``, which is what makes a re-send safe. That
        answer does not say which decision is on record, so the execution is re-read and the
        step's state tells it (``_vote_on_record``): the outcome carries it
        (``recorded_decision``) and the gateway calls only the same decision a success.
        """
        native_id = execution.native_id
        if not reviewer_id:
            raise UpstreamForbidden(
                "a Velt decision needs the caller's reviewer id",
                source=self.name,
                native_id=native_id,
            )
        data: dict[str, Any] = {
            "executionId": native_id,
            "stepId": approval.step_native_id or approval.key,
            "reviewerId": reviewer_id,
            "decision": "approve" if decision is Decision.APPROVE else "reject",
        }
        if notes:
            data["reason"] = notes
        payload = await self._call(DECIDE_PATH, data, native_id)
        reply = self.parsed(_parse_decision_reply, payload, native_id)
        if reply.recorded:
            return DecisionOutcome(
                approval_status=reply.aggregator_status,
                requested=decision,
                recorded_decision=decision,
            )
        reason = reply.rejection_reason
        if reason == "idempotent":
            reread = await self._reread_approval(native_id, approval.key)
            return DecisionOutcome(
                approval_status=reread.status if reread is not None else reply.aggregator_status,
                already_recorded=True,
                detail=reason,
                requested=decision,
                recorded_decision=_vote_on_record(reread, reviewer_id, reply.aggregator_status),
                approval=reread,
            )
        kind = _REFUSALS.get(reason or "", UpstreamBadResponse)
        detail = (
            f"the vote was not recorded ({reason})"
            if reason
            else "the vote was not recorded and no reason was given"
        )
        raise kind(detail, source=self.name, native_id=native_id, upstream_code=reason)

    async def start(self, request: StartRequest) -> StartOutcome:
        """Dispatch, then read the new run (the reply names only its id); a failed read still
        reports the start, without the run."""
        if not request.workflow_id:
            raise UpstreamRejected("a Velt dispatch needs a definition id", source=self.name)
        data: dict[str, Any] = {
            "definitionId": request.workflow_id,
            "idempotencyKey": request.idempotency_key,
            "triggerContext": request.inputs if request.inputs is not None else {},
        }
        if request.correlation_id:
            data["correlationId"] = request.correlation_id
        payload = await self._call(DISPATCH_PATH, data, None)
        outcome = self.parsed(parse_dispatch_reply, payload, None)
        try:
            execution: Execution | None = await self.get_execution(outcome.native_id)
        except UpstreamError:
            execution = None
        return StartOutcome(outcome.native_id, execution, outcome.deduplicated)

    async def cancel(self, native_id: str, *, reason: str | None) -> None:
        """``executions/cancel {executionId, reason?}`` → ``{cancelled, executionId}``."""
        data: dict[str, Any] = {"executionId": native_id}
        if reason:
            data["reason"] = reason[:MAX_CANCEL_REASON]
        await self._call(CANCEL_PATH, data, native_id)

    async def _reread_approval(self, native_id: str, key: str) -> Approval | None:
        """The approval as Velt shows it now; None when the read fails (the vote stands)."""
        try:
            return (await self.get_execution(native_id)).approval(key)
        except UpstreamError:
            return None


def _vote_on_record(
    approval: Approval | None, reviewer_id: str, replied: ApprovalStatus | None
) -> Decision | None:
    """The vote Velt holds for a reviewer it answered ``idempotent``: they have voted, and the
    step's state says which way.

    A human step resolves when all mandatory reviewers approve **or any reviewer rejects**, so
    a step still pending after this reviewer's vote, or resolved as approved, holds their
    approval; a rejected one holds their rejection when ``rejectedBy`` names them, and their
    earlier approval when it names someone else (their vote did not settle it, so it was no
    rejection). The reply's own ``aggregatorStatus`` says as much when the re-read failed. None
    only when nothing pins it down (a rejection without ``rejectedBy``, as ``steps/resolve``
    leaves it).
    """
    status = replied
    if approval is not None:
        reviewer = next((r for r in approval.reviewers if r.id == reviewer_id), None)
        if reviewer is not None and reviewer.decision is not None:
            return _as_decision(reviewer.decision)
        status = approval.status
    if status is ApprovalStatus.PENDING or status is ApprovalStatus.APPROVED:
        return Decision.APPROVE
    if status is ApprovalStatus.REJECTED and approval is not None and approval.decided_by:
        return Decision.REJECT if approval.decided_by == reviewer_id else Decision.APPROVE
    return None


def _as_decision(status: ApprovalStatus) -> Decision | None:
    if status is ApprovalStatus.APPROVED:
        return Decision.APPROVE
    if status is ApprovalStatus.REJECTED:
        return Decision.REJECT
    return None
