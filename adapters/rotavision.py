"""Rotavision-style Orchestrate API (``/v1/orchestrate/executions``).

Docs: ``shared/upstreams/rotavision.txt`` and notes §1. Quirks we bend to:
- no published status enum: words are matched tolerantly, anything else is UNKNOWN;
- steps carry no kind; a step whose output is ``{approved, approved_by, notes}`` is the human
  step, and so is the waiting execution's ``current_step``; other steps keep their agent id as
  ``upstream_kind`` and map to UNKNOWN (the kind lives only on the workflow definition);
- approvals are keyed by execution upstream, at most one pending at a time; we key an Approval by
  its human agent id, which the waiting payload (``current_step``) and the decided step (``agent``)
  share, so an approval keeps its id across the decision; an execution that asks the same human
  agent again gets ``<agent>~<n>`` for the n-th time (``approval_key``), so each is distinct;
- a decided payload drops ``waiting_for``: the question's ``message``, ``context`` and
  ``assignees`` are gone, only ``approved_by`` is left. The adapter remembers what each pending
  approval asked (``ASKED_TTL_S``, in this process) and keeps it on the decided one.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

from adapters._parse import (
    as_bool,
    as_decimal,
    as_dict,
    as_int,
    as_list,
    as_str,
    duration_ms_between,
    error_info,
    iso_datetime,
    normalize_word,
    require_dict,
    require_str,
)
from adapters.base import (
    Capability,
    Credentials,
    Decision,
    DecisionOutcome,
    ExecutionPage,
    RunAction,
    SourceAdapter,
    StartOutcome,
    StartRequest,
)
from adapters.declarations import SHA256_PREFIXED, WebhookEvent, Webhooks
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import (
    Approval,
    ApprovalStatus,
    Cost,
    Execution,
    ExecutionStatus,
    Money,
    Reviewer,
    SourceKind,
    Step,
    StepKind,
    StepStatus,
    Workflow,
)
from adapters.webhook_parsing import event_body, identified, iso_seconds, member, text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.engine import SourceHTTP
    from adapters.transports import TransportResponse

__all__ = [
    "RotavisionAdapter",
    "RotavisionOptions",
    "apply_agent_types",
    "approval_key",
    "keep_what_was_asked",
    "parse_agent_types",
    "parse_execution",
    "parse_execution_page",
    "read_rotavision_event",
]

EXECUTION_PATH = "/v1/orchestrate/executions/{}"
LIST_PATH = "/v1/orchestrate/executions"
APPROVE_PATH = "/v1/orchestrate/executions/{}/approve"
WORKFLOW_PATH = "/v1/orchestrate/workflows/{}"
RUN_PATH = "/v1/orchestrate/workflows/{}/run"
CANCEL_PATH = "/v1/orchestrate/executions/{}/cancel"
WORKFLOW_TTL_S = 600.0
"""How long a workflow definition's agent types are kept (definitions change rarely, by PATCH)."""
WORKFLOW_ENTRIES = 1_000
MAX_PAGE_SIZE = 100
DECISION_ATTEMPTS = 3
"""One send plus two retries of the same request (same Idempotency-Key) on a timeout or 5xx."""
ASKED_TTL_S = 7 * 24 * 3600.0
"""How long what a pending approval asked is remembered for its decided copy (a week of
decisions: a review UI shows the question beside the answer)."""
ASKED_ENTRIES = 10_000
ON_BEHALF_OF = "x-on-behalf-of"
"""Names the gateway caller's reviewer id; the documented body has no field for who decided."""

# The unified statuses this API can filter its list by (the filter is not documented; the
# caller filters what comes back either way).
_LIST_FILTER = {
    ExecutionStatus.RUNNING: "running",
    ExecutionStatus.WAITING_FOR_APPROVAL: "waiting_approval",
    ExecutionStatus.COMPLETED: "completed",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.CANCELLED: "cancelled",
    ExecutionStatus.TIMED_OUT: "timeout",
}

_EXECUTION_STATUS = {
    "pending": ExecutionStatus.PENDING,
    "queued": ExecutionStatus.PENDING,
    "created": ExecutionStatus.PENDING,
    "running": ExecutionStatus.RUNNING,
    "inprogress": ExecutionStatus.RUNNING,
    "waitingapproval": ExecutionStatus.WAITING_FOR_APPROVAL,
    "waitingforapproval": ExecutionStatus.WAITING_FOR_APPROVAL,
    "awaitingapproval": ExecutionStatus.WAITING_FOR_APPROVAL,
    "completed": ExecutionStatus.COMPLETED,
    "succeeded": ExecutionStatus.COMPLETED,
    "success": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "error": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "canceled": ExecutionStatus.CANCELLED,
    "timeout": ExecutionStatus.TIMED_OUT,
    "timedout": ExecutionStatus.TIMED_OUT,
}

_STEP_STATUS = {
    "pending": StepStatus.PENDING,
    "queued": StepStatus.PENDING,
    "running": StepStatus.RUNNING,
    "inprogress": StepStatus.RUNNING,
    "waiting": StepStatus.RUNNING,
    "waitingapproval": StepStatus.WAITING_FOR_APPROVAL,
    "completed": StepStatus.COMPLETED,
    "succeeded": StepStatus.COMPLETED,
    "failed": StepStatus.FAILED,
    "error": StepStatus.FAILED,
    "cancelled": StepStatus.CANCELLED,
    "canceled": StepStatus.CANCELLED,
    "skipped": StepStatus.SKIPPED,
    "timeout": StepStatus.TIMED_OUT,
    "timedout": StepStatus.TIMED_OUT,
}

# The workflow definition's agents[].type words, used when a step does carry a type.
_AGENT_KIND = {
    "llm": StepKind.AGENT,
    "agent": StepKind.AGENT,
    "code": StepKind.CODE,
    "search": StepKind.SEARCH,
    "tool": StepKind.TOOL,
    "human": StepKind.HUMAN_APPROVAL,
}


def parse_execution(payload: Any) -> Execution:
    """A ``GET /orchestrate/executions/{id}`` body → Execution (pure)."""
    data = require_dict(payload, "execution")
    native_id = require_str(data, "id")
    upstream_status = as_str(data.get("status"))
    waiting_for = as_dict(data.get("waiting_for"))
    current_step = as_str(data.get("current_step"))

    status = _EXECUTION_STATUS.get(normalize_word(upstream_status) or "", ExecutionStatus.UNKNOWN)
    if status is ExecutionStatus.UNKNOWN and _waits_for_human(waiting_for):
        status = ExecutionStatus.WAITING_FOR_APPROVAL

    step_payloads = [s for s in as_list(data.get("steps")) if isinstance(s, dict)]
    steps = tuple(_parse_step(i, s) for i, s in enumerate(step_payloads))
    asked: dict[str, int] = {}  # how often each human agent was asked: occurrence numbers
    approvals = []
    for step in steps:
        if step.kind is StepKind.HUMAN_APPROVAL and _is_decision_output(step.output):
            agent = step.agent_id or step.native_id
            asked[agent] = asked.get(agent, 0) + 1
            approvals.append(_decided_approval(step, approval_key(agent, asked[agent])))
    if status is ExecutionStatus.WAITING_FOR_APPROVAL:
        key = approval_key(current_step, asked.get(current_step, 0) + 1) if current_step else ""
        pending = _pending_approval(key, waiting_for, iso_datetime(data.get("updated_at")))
        approvals = [a for a in approvals if a.key != pending.key]
        approvals.append(pending)

    created_at = iso_datetime(data.get("created_at"))
    started_at = iso_datetime(data.get("started_at")) or created_at
    completed_at = iso_datetime(data.get("completed_at"))
    duration_ms = as_int(data.get("duration_ms"))
    if duration_ms is None:
        duration_ms = duration_ms_between(started_at, completed_at)

    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=upstream_status,
        raw=data,
        workflow=Workflow(
            id=as_str(data.get("workflow_id")),
            name=as_str(data.get("workflow_name")),
            version=as_str(data.get("workflow_version")),
        ),
        inputs=data.get("inputs"),
        outputs=data.get("outputs"),
        steps=steps,
        approvals=tuple(approvals),
        cost=_parse_cost(data.get("cost")),
        created_at=created_at,
        started_at=started_at,
        completed_at=completed_at,
        updated_at=iso_datetime(data.get("updated_at")),
        duration_ms=duration_ms,
        error=error_info(data.get("error")),
        current_step=current_step,
    )


def parse_agent_types(payload: Any) -> dict[str, str]:
    """A workflow definition → ``{agent id: agent type}`` from its ``agents[]``."""
    data = require_dict(payload, "workflow")
    found: dict[str, str] = {}
    for agent in as_list(data.get("agents")):
        if isinstance(agent, dict):
            agent_id, agent_type = as_str(agent.get("id")), as_str(agent.get("type"))
            if agent_id and agent_type:
                found[agent_id] = agent_type
    return found


def apply_agent_types(execution: Execution, agent_types: Mapping[str, str]) -> Execution:
    """Give UNKNOWN steps the kind their agent has in the workflow definition (pure)."""
    steps = []
    for step in execution.steps:
        agent_type = agent_types.get(step.agent_id or "")
        if step.kind is StepKind.UNKNOWN and agent_type is not None:
            kind = _AGENT_KIND.get(normalize_word(agent_type) or "", StepKind.UNKNOWN)
            step = dataclasses.replace(step, kind=kind, upstream_kind=agent_type)
        steps.append(step)
    return dataclasses.replace(execution, steps=tuple(steps))


def parse_execution_page(payload: Any) -> ExecutionPage:
    """A list reply ``{data, has_more, next_cursor}`` → ExecutionPage (items are complete)."""
    data = require_dict(payload, "execution list")
    items = tuple(parse_execution(item) for item in as_list(data.get("data")))
    has_more = as_bool(data.get("has_more"))
    next_cursor = as_str(data.get("next_cursor"))
    if has_more is False:
        next_cursor = None
    return ExecutionPage(items=items, next_cursor=next_cursor, total=as_int(data.get("total")))


def _waits_for_human(waiting_for: dict[str, Any] | None) -> bool:
    return waiting_for is not None and normalize_word(waiting_for.get("type")) == "humanapproval"


def _parse_step(index: int, data: dict[str, Any]) -> Step:
    agent = as_str(data.get("agent"))
    output = data.get("output")
    upstream_type = as_str(data.get("type"))
    if _is_decision_output(output):
        kind = StepKind.HUMAN_APPROVAL
    else:
        kind = _AGENT_KIND.get(normalize_word(upstream_type) or "", StepKind.UNKNOWN)
    upstream_status = as_str(data.get("status"))
    status = _STEP_STATUS.get(normalize_word(upstream_status) or "", StepStatus.UNKNOWN)
    return Step(
        native_id=as_str(data.get("id")) or f"step_{index + 1}",
        index=index,
        name=agent,
        kind=kind,
        status=status,
        upstream_status=upstream_status,
        upstream_kind=upstream_type or agent,
        output=output,
        error=error_info(data.get("error")),
        started_at=iso_datetime(data.get("started_at")),
        completed_at=iso_datetime(data.get("completed_at")),
        duration_ms=as_int(data.get("duration_ms")),
        agent_id=agent,
    )


def _is_decision_output(output: object) -> bool:
    return isinstance(output, dict) and isinstance(output.get("approved"), bool)


def approval_key(agent: str, occurrence: int) -> str:
    """An approval's key within its execution: the human agent's id for the first time it is
    asked, ``<agent>~<n>`` for the n-th (an execution can ask the same human step again).

    The waiting payload names the agent (``current_step``) and lists the earlier decided steps,
    and the decided step names the same agent in the same position, so a key survives the
    decision; the first occurrence keeps the bare agent id that earlier keys used.
    """
    return agent if occurrence <= 1 else f"{agent}~{occurrence}"


def _decided_approval(step: Step, key: str) -> Approval:
    output = step.output
    assert isinstance(output, dict)
    approved = as_bool(output.get("approved"))
    decided_by = as_str(output.get("approved_by"))
    status = ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED
    reviewers = (Reviewer(id=decided_by, decision=status),) if decided_by else ()
    return Approval(
        key=key,
        status=status,
        step_native_id=step.native_id,
        reviewers=reviewers,
        decided_by=decided_by,
        decided_at=iso_datetime(output.get("decided_at")) or step.completed_at,
        notes=as_str(output.get("notes")),
    )


def _pending_approval(key: str, waiting_for: dict[str, Any] | None, updated_at: Any) -> Approval:
    waiting_for = waiting_for or {}
    assignees = [a for a in (as_str(x) for x in as_list(waiting_for.get("assignees"))) if a]
    return Approval(
        key=key,
        status=ApprovalStatus.PENDING,
        reviewers=tuple(Reviewer(id=a) for a in assignees),
        message=as_str(waiting_for.get("message")),
        context=waiting_for.get("context"),
        requested_at=iso_datetime(waiting_for.get("requested_at")) or updated_at,
    )


def keep_what_was_asked(asked: Approval, decided: Approval) -> Approval:
    """``decided`` with what the pending ``asked`` showed and the decided payload no longer does:
    the message, context and request time, and every assignee, in the order asked, each with
    the decision the decided copy shows (the one who decided keeps theirs)."""
    shown = {r.id: r for r in decided.reviewers}
    asked_ids = {r.id for r in asked.reviewers}
    reviewers = tuple(shown.get(r.id, r) for r in asked.reviewers) + tuple(
        r for r in decided.reviewers if r.id not in asked_ids
    )
    return dataclasses.replace(
        decided,
        reviewers=reviewers,
        message=decided.message if decided.message is not None else asked.message,
        context=decided.context if decided.context is not None else asked.context,
        requested_at=decided.requested_at or asked.requested_at,
    )


def _parse_cost(value: object) -> Cost | None:
    data = as_dict(value)
    if not data:
        return None
    amounts = []
    for currency, amount in data.items():
        number = as_decimal(amount)
        if number is not None and len(currency) == 3 and currency.isalpha():
            amounts.append(Money(amount=number, currency=currency.upper()))
    return Cost(amounts=tuple(amounts)) if amounts else None


WEBHOOK_EVENT_TYPES = frozenset({"workflow.completed", "workflow.failed"})
"""The events Rotavision documents; none says an execution waits for approval."""


def read_rotavision_event(body: Any) -> WebhookEvent:
    """A signed webhook body, ``{"id": "evt_…", "type", "created_at", "data": {…}}``
    (concepts/webhooks.mdx): the execution is ``data.execution_id`` (or ``data.id``), the time
    ``created_at`` (ISO-8601)."""
    event = event_body(body)
    data = member(event.get("data"))
    event_id, type_ = identified(text(event.get("id")), text(event.get("type")))
    native_id = text(data.get("execution_id")) or text(data.get("id"))
    known = type_ in WEBHOOK_EVENT_TYPES
    return WebhookEvent(event_id, type_, native_id, known, iso_seconds(event.get("created_at")))


_ERROR_TYPES: dict[str, type[UpstreamError]] = {
    "authentication_error": UpstreamAuthFailed,
    "not_found_error": ExecutionNotFound,
    "rate_limit_error": UpstreamRateLimited,
    "validation_error": UpstreamRejected,
}


@dataclasses.dataclass(frozen=True, slots=True)
class RotavisionOptions:
    step_kinds_from_workflow: bool = False
    """Read step kinds from the workflow definition (one cached call per workflow)."""


class RotavisionAdapter(SourceAdapter):
    """With the option ``step_kinds_from_workflow``, steps get their kind from the workflow
    definition (``GET /orchestrate/workflows/{id}``, the only place the API names agent types),
    fetched once per workflow and kept for ``WORKFLOW_TTL_S``; a definition that cannot be read
    leaves the steps UNKNOWN rather than failing the execution."""

    kind = SourceKind.ROTAVISION
    capabilities = frozenset({Capability.GET, Capability.LIST, Capability.APPROVE})
    waiting_status = ExecutionStatus.WAITING_FOR_APPROVAL
    actions = frozenset({RunAction.START, RunAction.CANCEL, RunAction.RERUN})
    start_deduplicates = True
    """Every POST takes an ``Idempotency-Key``, replayed for 24 h (the API overview)."""
    options_type = RotavisionOptions
    options: RotavisionOptions
    webhooks = Webhooks(
        "x-rotavision-signature", SHA256_PREFIXED, read_rotavision_event, covers_every_change=False
    )
    """``X-Rotavision-Signature: sha256=<hex>``. No event says "waiting for approval", so a
    watched execution is polled too. Retries run 7 times over ~35 h, so no window shorter than
    ``live.dedupe_ttl_s`` is declared."""

    def __init__(self, name: str, http: SourceHTTP, options: object | None = None) -> None:
        super().__init__(name, http, options)
        self._kinds_from_workflow = self.options.step_kinds_from_workflow
        self._agent_types: TTLCache[str, dict[str, str]] = TTLCache(
            maxsize=WORKFLOW_ENTRIES, ttl=WORKFLOW_TTL_S
        )
        self._workflow_fetches: dict[str, asyncio.Task[dict[str, str]]] = {}
        self._asked: TTLCache[tuple[str, str], Approval] = TTLCache(
            maxsize=ASKED_ENTRIES, ttl=ASKED_TTL_S
        )
        """(execution, approval key) → the approval as it was pending."""

    def _with_what_was_asked(self, execution: Execution) -> Execution:
        """Remember each pending approval; give each decided one what its pending copy asked.

        The execution is copied only when a decided approval got what its pending copy asked:
        a copy of a whole Execution costs about as much as parsing a small one.
        """
        approvals = []
        completed = False
        for approval in execution.approvals:
            key = (execution.native_id, approval.key)
            if approval.status is ApprovalStatus.PENDING:
                self._asked[key] = approval
            elif (asked := self._asked.get(key)) is not None:
                approval = keep_what_was_asked(asked, approval)
                completed = True
            approvals.append(approval)
        if not completed:
            return execution
        return dataclasses.replace(execution, approvals=tuple(approvals))

    async def _with_kinds(self, execution: Execution) -> Execution:
        workflow_id = execution.workflow.id if execution.workflow else None
        if not (self._kinds_from_workflow and workflow_id):
            return execution
        if not any(s.kind is StepKind.UNKNOWN and s.agent_id for s in execution.steps):
            return execution
        agent_types = self._agent_types.get(workflow_id)
        if agent_types is None:
            task = self._workflow_fetches.get(workflow_id)
            if task is None:
                task = asyncio.create_task(self._fetch_agent_types(workflow_id))
                self._workflow_fetches[workflow_id] = task
                task.add_done_callback(lambda _: self._workflow_fetches.pop(workflow_id, None))
            agent_types = await asyncio.shield(task)
        return apply_agent_types(execution, agent_types)

    async def _fetch_agent_types(self, workflow_id: str) -> dict[str, str]:
        try:
            payload = await self.http.request_json("GET", WORKFLOW_PATH, workflow_id)
            agent_types = self.parsed(parse_agent_types, payload, workflow_id)
        except UpstreamError:
            return {}  # not kept: the next execution of this workflow asks again
        self._agent_types[workflow_id] = agent_types
        return agent_types

    @staticmethod
    def auth_headers(credentials: Credentials) -> Mapping[str, str]:
        return {"authorization": f"Bearer {credentials.get('api_key', '')}"}

    @staticmethod
    def read_error(response: TransportResponse, body: Any) -> UpstreamError | None:
        """``{"error": {code, message, type}}``: the type decides, the code is kept."""
        error = as_dict(body.get("error")) if isinstance(body, dict) else None
        if error is None:
            return None
        kind = _ERROR_TYPES.get(as_str(error.get("type")) or "")
        if kind is None:
            return None
        return kind(upstream_code=as_str(error.get("code")))

    async def get_execution(self, native_id: str) -> Execution:
        payload = await self.http.request_json(
            "GET", EXECUTION_PATH, native_id, native_id=native_id
        )
        execution = self.parsed(parse_execution, payload, native_id)
        return await self._with_kinds(self._with_what_was_asked(execution))

    async def list_executions(
        self, *, cursor: str | None, page_size: int, status: ExecutionStatus | None = None
    ) -> ExecutionPage:
        params: dict[str, Any] = {"limit": max(1, min(page_size, MAX_PAGE_SIZE))}
        if cursor:
            params["cursor"] = cursor
        if status is not None and status in _LIST_FILTER:
            params["status"] = _LIST_FILTER[status]
        payload = await self.http.request_json("GET", LIST_PATH, params=params)
        page = self.parsed(parse_execution_page, payload, None)
        items = tuple(self._with_what_was_asked(item) for item in page.items)
        if self._kinds_from_workflow:
            items = tuple(await asyncio.gather(*(self._with_kinds(item) for item in items)))
        return dataclasses.replace(page, items=items)

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
        """``POST …/approve {approved, notes}`` with an Idempotency-Key.

        The upstream replays its first answer for a key it has seen, so resending the same request
        after a timeout or a 5xx cannot decide twice; nothing else is ever resent. A 409 means the
        execution no longer waits (UpstreamConflict, raised as is).
        """
        headers = {"idempotency-key": idempotency_key}
        if reviewer_id:
            headers[ON_BEHALF_OF] = reviewer_id
        body = {"approved": decision is Decision.APPROVE, "notes": notes or ""}
        native_id = execution.native_id
        for attempt in range(1, DECISION_ATTEMPTS + 1):
            try:
                await self.http.request_json(
                    "POST",
                    APPROVE_PATH,
                    native_id,
                    json=body,
                    headers=headers,
                    native_id=native_id,
                    idempotent=False,
                )
                break
            except (UpstreamTimeout, UpstreamUnavailable) as exc:
                # Only a request that may have reached the upstream is worth resending: a 5xx or
                # a timeout. A refused connection or an open breaker sent nothing.
                reached = isinstance(exc, UpstreamTimeout) or exc.http_status is not None
                if attempt == DECISION_ATTEMPTS or not reached:
                    raise
        status = (
            ApprovalStatus.APPROVED if decision is Decision.APPROVE else ApprovalStatus.REJECTED
        )
        return DecisionOutcome(
            approval_status=status, requested=decision, recorded_decision=decision
        )

    async def start(self, request: StartRequest) -> StartOutcome:
        """``POST /orchestrate/workflows/{id}/run {inputs}`` → 202 with the new execution.

        The Idempotency-Key (documented for every POST, kept 24 h upstream) makes a resend after a
        lost reply start nothing new; the gateway still sends once per call.
        """
        if not request.workflow_id:
            raise UpstreamRejected("a Rotavision start needs a workflow id", source=self.name)
        payload = await self.http.request_json(
            "POST",
            RUN_PATH,
            request.workflow_id,
            json={"inputs": request.inputs if request.inputs is not None else {}},
            headers={"idempotency-key": request.idempotency_key},
            idempotent=False,
        )
        execution = self.parsed(parse_execution, payload, None)
        return StartOutcome(native_id=execution.native_id, execution=execution)

    async def cancel(self, native_id: str, *, reason: str | None) -> None:
        """``POST /orchestrate/executions/{id}/cancel``: the body and reply are undocumented, so
        an empty body is sent and a 2xx is acceptance, whatever its body (even none)."""
        try:
            await self.http.request_json(
                "POST", CANCEL_PATH, native_id, json={}, native_id=native_id, idempotent=False
            )
        except UpstreamBadResponse as exc:
            if exc.http_status is None or not 200 <= exc.http_status < 300:
                raise

    def rerun_request(self, execution: Execution, idempotency_key: str) -> StartRequest | None:
        """The execution shows its ``workflow_id`` and ``inputs``: both are sent again."""
        workflow_id = execution.workflow.id if execution.workflow else None
        if not workflow_id or not isinstance(execution.inputs, dict):
            return None
        return StartRequest(
            workflow_id=workflow_id, inputs=execution.inputs, idempotency_key=idempotency_key
        )
