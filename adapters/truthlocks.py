"""Truthlocks-style orchestrations API (``GET /v1/orchestrations/{id}``).

Docs: ``shared/upstreams/truthlocks.txt`` and notes §4. Quirks we bend to:
- one doc page shows two contradictory response schemas; we accept both, and any mix of them:
  variant A (prose: ``id`` = ``maip-orch:<ULID>``, ``agent_id``, steps with ``step_number``,
  ``output``, ``total_cost_cents``, ``receipt_id``, ``started_at``, ``error``) and variant B
  (OpenAPI: ``orchestration_id`` uuid, ``agents[]``, ``parameters``, steps with ``step_id`` and
  a free-form ``status``, ``results``, ``receipts[]``, ``created_at``);
- variant A steps have no status: the page lists "every step executed", each with an outcome
  summary (``result``) and ``duration_ms``, so such a step has ended, even in a running run; how
  the last one ended is the run's to say (see ``_derived_step_status``);
- no approval, cancel or list endpoint is documented: the adapter gets and starts
  (``POST /v1/orchestrations/execute``, either documented request: ``{agent_id, workflow_id?,
  input}`` or ``{workflow_id, agents[], parameters}``, the reply parsed like a get);
- ``X-Tenant-ID`` is required beside the key; error bodies are flat ``{code, message, details,
  trace_id}``, and a rate-limited body says its wait in ``details.retry_after_seconds``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters._parse import (
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
    RunAction,
    SourceAdapter,
    StartOutcome,
    StartRequest,
)
from adapters.declarations import SHA256_PREFIX_OPTIONAL, Secret, WebhookEvent, Webhooks
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamConflict,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from adapters.model import (
    Cost,
    Execution,
    ExecutionStatus,
    Money,
    SourceKind,
    Step,
    StepKind,
    StepStatus,
    Workflow,
)
from adapters.webhook_parsing import event_body, identified, iso_seconds, member, text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.transports import TransportResponse

__all__ = [
    "EXECUTE_PATH",
    "EXECUTION_PATH",
    "TruthlocksAdapter",
    "parse_execution",
    "read_truthlocks_event",
]

EXECUTION_PATH = "/v1/orchestrations/{}"
EXECUTE_PATH = "/v1/orchestrations/execute"

# Union of both documented enums plus the draft spec's run statuses (created, validating, timed_out).
_EXECUTION_STATUS = {
    "pending": ExecutionStatus.PENDING,
    "created": ExecutionStatus.PENDING,
    "validating": ExecutionStatus.PENDING,
    "running": ExecutionStatus.RUNNING,
    "completed": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "canceled": ExecutionStatus.CANCELLED,
    "timeout": ExecutionStatus.TIMED_OUT,
    "timedout": ExecutionStatus.TIMED_OUT,
}

# Variant B's step status is a free string; these are the draft spec's words plus spellings.
_STEP_STATUS = {
    "pending": StepStatus.PENDING,
    "running": StepStatus.RUNNING,
    "completed": StepStatus.COMPLETED,
    "failed": StepStatus.FAILED,
    "skipped": StepStatus.SKIPPED,
    "timeout": StepStatus.TIMED_OUT,
    "timedout": StepStatus.TIMED_OUT,
    "cancelled": StepStatus.CANCELLED,
    "canceled": StepStatus.CANCELLED,
}

# Step ``action`` (get page) or ``type`` (workflow definitions) words.
_STEP_KIND = {
    "llminference": StepKind.AGENT,
    "llm": StepKind.AGENT,
    "agent": StepKind.AGENT,
    "toolcall": StepKind.TOOL,
    "tool": StepKind.TOOL,
    "decision": StepKind.DECISION,
    "guardrailcheck": StepKind.GUARDRAIL,
    "guardrail": StepKind.GUARDRAIL,
    "transform": StepKind.TRANSFORM,
    "webhook": StepKind.WEBHOOK,
    "code": StepKind.CODE,
    "codeexecution": StepKind.CODE,
    "search": StepKind.SEARCH,
    "retrieval": StepKind.SEARCH,
    "humanreview": StepKind.HUMAN_APPROVAL,
    "humanapproval": StepKind.HUMAN_APPROVAL,
    "approval": StepKind.HUMAN_APPROVAL,
}

# A status-less step that is the last of a run that ended in one of these states shares its fate.
_LAST_STEP_STATUS = {
    ExecutionStatus.FAILED: StepStatus.FAILED,
    ExecutionStatus.TIMED_OUT: StepStatus.TIMED_OUT,
    ExecutionStatus.CANCELLED: StepStatus.CANCELLED,
}


def parse_execution(payload: Any) -> Execution:
    """A ``GET /v1/orchestrations/{id}`` body of either documented variant → Execution (pure)."""
    data = require_dict(payload, "orchestration")
    native_id = require_str(data, "id", "orchestration_id")
    variant = "A" if as_str(data.get("id")) else "B"
    upstream_status = as_str(data.get("status"))
    status = _EXECUTION_STATUS.get(normalize_word(upstream_status) or "", ExecutionStatus.UNKNOWN)
    agent_id = as_str(data.get("agent_id"))
    agents = [a for a in (as_str(x) for x in as_list(data.get("agents"))) if a]

    raw_steps = _ordered_steps([s for s in as_list(data.get("steps")) if isinstance(s, dict)])
    last = len(raw_steps) - 1
    steps = tuple(
        _parse_step(i, s, run_status=status, is_last=i == last, run_agent_id=agent_id)
        for i, s in enumerate(raw_steps)
    )

    started_at = iso_datetime(data.get("started_at")) or iso_datetime(data.get("created_at"))
    created_at = iso_datetime(data.get("created_at")) or started_at
    completed_at = iso_datetime(data.get("completed_at"))
    duration_ms = as_int(data.get("duration_ms"))
    if duration_ms is None:
        duration_ms = duration_ms_between(started_at, completed_at)

    extra: dict[str, Any] = {"variant": variant}
    if agent_id:
        extra["agentId"] = agent_id
    if agents:
        extra["agents"] = agents

    inputs = data["parameters"] if "parameters" in data else data.get("input")
    outputs = data["output"] if "output" in data else data.get("results")

    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=upstream_status,
        raw=data,
        workflow=Workflow(id=as_str(data.get("workflow_id"))),
        inputs=inputs,
        outputs=outputs,
        steps=steps,
        cost=_parse_cost(data.get("total_cost_cents")),
        created_at=created_at,
        started_at=started_at,
        completed_at=completed_at,
        updated_at=iso_datetime(data.get("updated_at")),
        duration_ms=duration_ms,
        error=error_info(data.get("error")),
        receipts=_receipts(data),
        extra=extra,
    )


def _ordered_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by ``step_number`` when every step has one; otherwise keep the upstream's order."""
    numbers = [as_int(s.get("step_number")) for s in steps]
    if not steps or any(n is None for n in numbers):
        return steps
    order = sorted(range(len(steps)), key=lambda i: (numbers[i], i))
    return [steps[i] for i in order]


def _derived_step_status(run_status: ExecutionStatus, *, is_last: bool, ended: bool) -> StepStatus:
    """A status for a step that has none (variant A), from the run's status, the step's position
    and whether it ``ended`` (listed with an outcome and a duration, as executed steps are).

    Every step of a completed run completed; the last step of a failed, timed-out or cancelled
    run shares its fate. Otherwise a step that ended completed, except the last one of a run
    whose status is unknown (how it ended is unknown too). A step listed without outcome or
    duration is the current one of a running run when last (RUNNING), pending in a pending run.
    """
    if run_status is ExecutionStatus.COMPLETED:
        return StepStatus.COMPLETED
    if is_last and run_status in _LAST_STEP_STATUS:
        return _LAST_STEP_STATUS[run_status]
    if ended:
        unknown = is_last and run_status is ExecutionStatus.UNKNOWN
        return StepStatus.UNKNOWN if unknown else StepStatus.COMPLETED
    if run_status is ExecutionStatus.RUNNING:
        return StepStatus.RUNNING if is_last else StepStatus.COMPLETED
    if run_status in _LAST_STEP_STATUS:
        return StepStatus.COMPLETED
    if run_status is ExecutionStatus.PENDING:
        return StepStatus.PENDING
    return StepStatus.UNKNOWN


def _has_ended(data: dict[str, Any]) -> bool:
    """Listed with an outcome summary and a duration: the step was executed, not running."""
    return data.get("result") not in (None, "") and as_int(data.get("duration_ms")) is not None


def _parse_step(
    index: int,
    data: dict[str, Any],
    *,
    run_status: ExecutionStatus,
    is_last: bool,
    run_agent_id: str | None,
) -> Step:
    action = as_str(data.get("action")) or as_str(data.get("type"))
    kind = _STEP_KIND.get(normalize_word(action) or "", StepKind.UNKNOWN)
    upstream_status = as_str(data.get("status"))
    if upstream_status is None:
        status = _derived_step_status(run_status, is_last=is_last, ended=_has_ended(data))
    else:
        status = _STEP_STATUS.get(normalize_word(upstream_status) or "", StepStatus.UNKNOWN)
    step_number = as_int(data.get("step_number"))
    native_id = as_str(data.get("step_id")) or str(
        step_number if step_number is not None else index + 1
    )
    started_at = iso_datetime(data.get("started_at"))
    completed_at = iso_datetime(data.get("completed_at"))
    duration_ms = as_int(data.get("duration_ms"))
    if duration_ms is None:
        duration_ms = duration_ms_between(started_at, completed_at)
    return Step(
        native_id=native_id,
        index=index,
        name=as_str(data.get("name")) or action,
        kind=kind,
        status=status,
        upstream_status=upstream_status,
        upstream_kind=action,
        input=data.get("input"),
        output=data.get("result"),
        error=error_info(data.get("error")),
        started_at=started_at,
        completed_at=completed_at,
        duration_ms=duration_ms,
        agent_id=as_str(data.get("agent_id")) or run_agent_id,
    )


def _parse_cost(value: object) -> Cost | None:
    """``total_cost_cents`` (US cents, maybe fractional) → USD, exactly: 1234.5 → 12.345."""
    cents = as_decimal(value)
    if cents is None:
        return None
    return Cost(amounts=(Money(amount=cents.scaleb(-2), currency="USD"),))


def _receipts(data: dict[str, Any]) -> tuple[str, ...]:
    """``receipt_id`` (variant A) and ``receipts[]`` (variant B), de-duplicated, in order."""
    found = [as_str(data.get("receipt_id")), *(as_str(r) for r in as_list(data.get("receipts")))]
    return tuple(dict.fromkeys(r for r in found if r))


_ERROR_CODES: dict[str, type[UpstreamError]] = {
    "NOT_FOUND": ExecutionNotFound,
    "UNAUTHORIZED": UpstreamAuthFailed,
    "FORBIDDEN": UpstreamAuthFailed,
    "POLICY_VIOLATION": UpstreamAuthFailed,
    "INVALID_INPUT": UpstreamRejected,
    "INVALID_REQUEST": UpstreamRejected,
    "INVALID_ID": UpstreamRejected,
    "CONFLICT": UpstreamConflict,
    "RATE_LIMITED": UpstreamRateLimited,
    "INTERNAL_ERROR": UpstreamUnavailable,
    "DB_ERROR": UpstreamUnavailable,
}


WEBHOOK_EVENT_TYPES = frozenset(
    {
        "orchestration.started",
        "orchestration.completed",
        "orchestration.failed",
        "orchestration.timeout",
    }
)
"""The orchestration events of the observability events page (the get page names only
``completed`` and ``failed``)."""


def read_truthlocks_event(body: Any) -> WebhookEvent:
    """A signed webhook body, ``{"event_id", "event_type", "payload": {"orchestration_id"…},
    "timestamp"}`` (deduplicated on ``event_id``, as the webhooks guide says); also read where a
    generic event puts them: ``id``, ``type``, ``data.id``, a top-level ``orchestration_id``. The
    time is ``timestamp`` (ISO-8601)."""
    event = event_body(body)
    data = member(event.get("payload")) or member(event.get("data"))
    event_id, type_ = identified(
        text(event.get("event_id")) or text(event.get("id")),
        text(event.get("event_type")) or text(event.get("type")),
    )
    native_id = (
        text(data.get("orchestration_id"))
        or text(data.get("id"))
        or text(event.get("orchestration_id"))
    )
    known = type_ in WEBHOOK_EVENT_TYPES
    return WebhookEvent(event_id, type_, native_id, known, iso_seconds(event.get("timestamp")))


class TruthlocksAdapter(SourceAdapter):
    """Starts take no idempotency key upstream: the gateway's own guard is all there is. A run
    can be re-run when its get shows what started it: variant B (``workflow_id``, ``agents``,
    ``parameters``); variant A shows no input, so its runs cannot."""

    kind = SourceKind.TRUTHLOCKS
    secrets = (Secret("api_key"), Secret("tenant_id", literal=True))
    capabilities = frozenset({Capability.GET})
    actions = frozenset({RunAction.START, RunAction.RERUN})
    webhooks = Webhooks(
        "x-truthlocks-signature",
        SHA256_PREFIX_OPTIONAL,
        read_truthlocks_event,
        covers_every_change=True,
    )
    """``X-Truthlocks-Signature``: HMAC-SHA256 is documented but not its framing, so the bare
    digest is accepted too. Its retries are "exponential", with no schedule: no window shorter
    than ``live.dedupe_ttl_s`` is declared."""

    @staticmethod
    def auth_headers(credentials: Credentials) -> Mapping[str, str]:
        """``X-API-Key`` and ``X-Tenant-ID``; a missing value is left out, not sent empty."""
        headers = {
            "x-api-key": credentials.get("api_key"),
            "x-tenant-id": credentials.get("tenant_id"),
        }
        return {name: value for name, value in headers.items() if value}

    @staticmethod
    def read_error(response: TransportResponse, body: Any) -> UpstreamError | None:
        """Flat ``{code, message, details, trace_id}``: the code decides and is kept.

        HTTP 402 (plan limit reached, no code documented) reads as rate limited.
        """
        data = as_dict(body) or {}
        if "code" not in data and isinstance(data.get("error"), dict):
            data = data["error"]  # tolerate a wrapped body too
        code = as_str(data.get("code"))
        kind = _ERROR_CODES.get(code.upper()) if code else None
        if kind is None:
            if response.status == 402:
                return UpstreamRateLimited(upstream_code=code)
            return None
        retry_after = None
        if kind is UpstreamRateLimited:
            seconds = as_decimal((as_dict(data.get("details")) or {}).get("retry_after_seconds"))
            retry_after = float(seconds) if seconds is not None and seconds >= 0 else None
        return kind(upstream_code=code, retry_after=retry_after)

    async def get_execution(self, native_id: str) -> Execution:
        payload = await self.http.request_json(
            "GET", EXECUTION_PATH, native_id, native_id=native_id
        )
        return self.parsed(parse_execution, payload, native_id)

    async def start(self, request: StartRequest) -> StartOutcome:
        """The prose request when an agent is named, else the OpenAPI one (workflow + agents)."""
        body: dict[str, Any]
        if request.agent_id:
            body = {"agent_id": request.agent_id, "input": request.inputs or {}}
            if request.workflow_id:
                body["workflow_id"] = request.workflow_id
        elif request.workflow_id and request.agents:
            body = {
                "workflow_id": request.workflow_id,
                "agents": list(request.agents),
                "parameters": request.inputs or {},
            }
        else:
            raise UpstreamRejected(
                "a Truthlocks start needs an agent id, or a workflow id and agents",
                source=self.name,
            )
        payload = await self.http.request_json("POST", EXECUTE_PATH, json=body, idempotent=False)
        execution = self.parsed(parse_execution, payload, None)
        return StartOutcome(native_id=execution.native_id, execution=execution)

    def rerun_request(self, execution: Execution, idempotency_key: str) -> StartRequest | None:
        raw = execution.raw if isinstance(execution.raw, dict) else {}
        agents = tuple(a for a in (as_str(x) for x in as_list(raw.get("agents"))) if a)
        workflow_id = as_str(raw.get("workflow_id"))
        parameters = raw.get("parameters")
        if not (workflow_id and agents and isinstance(parameters, dict)):
            return None
        return StartRequest(
            workflow_id=workflow_id,
            inputs=parameters,
            idempotency_key=idempotency_key,
            agents=agents,
        )
