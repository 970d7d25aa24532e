"""LangGraph's Agent Server (the LangGraph Platform / LangSmith Deployment API).

The routes and shapes are the server's own OpenAPI document (``/openapi.json`` of ``langgraph dev``)
and ``langgraph_sdk``; ``docs/upstreams.md`` ("LangGraph") says what is documented and what is read
from the running server. What we decided:

- an Execution is a **thread** with its runs: the thread's ``status`` (``idle|busy|interrupted|
  error``), ``values``, ``error`` and current ``interrupts``, the latest run's status to tell how an
  idle thread ended, the first run's input as its inputs;
- its steps are the tasks of the thread's checkpoints (``POST /threads/{id}/history``, oldest
  first, at most ``HISTORY_LIMIT``), ``__start__`` left out; a task that ever interrupted is the
  human step;
- each ``interrupt(...)`` is an Approval keyed by the interrupt's ``id`` (stable: the same in the
  thread, its history and the resume map); its value is the request (``context``, and ``message``
  when it is text or has a ``question``/``message``). A decided one is read back from the run whose
  ``command.resume`` answered it;
- approve/reject is one background run ``{"command": {"resume": {<interrupt id>: value}}}`` with
  ``multitask_strategy: "reject"``: the server refuses it (409) while another run is on the thread,
  and a resume keyed by an interrupt that no longer waits changes nothing. The value is the source's
  ``resume_format``: ``word`` sends ``"approve"``/``"reject"``; ``object`` sends ``{"decision",
  "notes", "reviewer"}``;
- with ``webhook_base_url`` each run the gateway creates asks the server to post its end to
  ``<base>/webhooks/<source>?token=<HMAC of the thread id>``: the server signs nothing, so the
  URL is signed instead (``Webhooks.url_token``), and a watched thread is still polled.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import quote, urlsplit

from adapters._parse import (
    as_dict,
    as_list,
    as_str,
    duration_ms_between,
    iso_datetime,
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
from adapters.declarations import (
    WEBHOOK_SECRET,
    Secret,
    UrlToken,
    WebhookEvent,
    Webhooks,
)
from adapters.errors import (
    ExecutionNotFound,
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import (
    Approval,
    ApprovalStatus,
    ErrorInfo,
    Execution,
    ExecutionStatus,
    Reviewer,
    SourceKind,
    Step,
    StepKind,
    StepStatus,
    Workflow,
)
from adapters.webhook_parsing import event_body, identified, text

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime

    from adapters.engine import SourceHTTP

__all__ = [
    "RESUME_FORMATS",
    "LangGraphAdapter",
    "LangGraphOptions",
    "ThreadParts",
    "parse_thread",
    "parse_thread_page",
    "read_run_event",
    "resume_value",
    "run_thread",
]

THREAD_PATH = "/threads/{}"
SEARCH_PATH = "/threads/search"
HISTORY_PATH = "/threads/{}/history"
RUNS_PATH = "/threads/{}/runs"
CANCEL_PATH = "/threads/{}/runs/{}/cancel"
HISTORY_LIMIT = 100
"""Checkpoints read per execution: the steps of the latest 100 super-steps."""
RUNS_LIMIT = 100
"""Runs read per execution (newest first): decisions older than that show as resumed, unread."""
MAX_PAGE_SIZE = 1000
"""``POST /threads/search``'s documented maximum ``limit``."""
ResumeFormat = Literal["word", "object"]
RESUME_FORMATS: tuple[str, ...] = get_args(ResumeFormat)
DECISION_KEY = "gateway_decision"
"""Run metadata naming the gateway's idempotency key: how a decision whose reply was lost is
found again (the server takes no idempotency key for runs)."""
REVIEWER_KEY = "gateway_reviewer"

_START_TASK = "__start__"
_ACTIVE_RUNS = ("pending", "running")

_SEARCH_FILTER = {
    ExecutionStatus.RUNNING: "busy",
    ExecutionStatus.PENDING: "busy",
    ExecutionStatus.WAITING_FOR_APPROVAL: "interrupted",
    ExecutionStatus.CANCELLED: "interrupted",
    ExecutionStatus.FAILED: "error",
    ExecutionStatus.COMPLETED: "idle",
}
_IDLE_BY_RUN = {
    "success": ExecutionStatus.COMPLETED,
    "error": ExecutionStatus.FAILED,
    "timeout": ExecutionStatus.TIMED_OUT,
    "interrupted": ExecutionStatus.CANCELLED,
}


def resume_value(fmt: str, decision: Decision, *, notes: str | None, reviewer: str | None) -> Any:
    """What ``interrupt(...)`` returns in the graph for this decision (``resume_format``)."""
    word = "approve" if decision is Decision.APPROVE else "reject"
    if fmt == "object":
        return {"decision": word, "notes": notes, "reviewer": reviewer}
    return word


@dataclass(frozen=True, slots=True)
class ThreadParts:
    """The three replies an execution is read from (runs and history may be empty lists)."""

    thread: Any
    runs: Any = ()
    history: Any = ()


def parse_thread(parts: ThreadParts) -> Execution:
    """``GET /threads/{id}`` + its runs (newest first) + its history (newest first) → Execution."""
    data = require_dict(parts.thread, "thread")
    native_id = require_str(data, "thread_id")
    runs = [r for r in as_list(parts.runs) if isinstance(r, dict)]
    checkpoints = [c for c in reversed(as_list(parts.history)) if isinstance(c, dict)]
    upstream_status = as_str(data.get("status"))
    pending = _pending_interrupts(data.get("interrupts"))
    latest_run = runs[0] if runs else None
    status = _status(upstream_status, data, pending, latest_run)
    error = _error(data.get("error"))

    steps = _steps(checkpoints, status)
    asked_at = {
        interrupt_id: step.started_at
        for step in steps
        for interrupt_id in _interrupt_ids(step.input)
    }
    approvals = _approvals(checkpoints, runs, pending, asked_at)
    approvals.sort(key=lambda a: (a.requested_at is None, a.requested_at or 0, a.key))

    metadata = as_dict(data.get("metadata")) or {}
    first_run = runs[-1] if runs else None
    first_kwargs = as_dict(first_run.get("kwargs")) if first_run else None
    created_at = iso_datetime(data.get("created_at"))
    started_at = iso_datetime(first_run.get("created_at")) if first_run else None
    updated_at = iso_datetime(data.get("updated_at"))
    terminal = status in (
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    )
    completed_at = updated_at if terminal else None
    extra: dict[str, Any] = {}
    if (assistant := as_str(metadata.get("assistant_id"))) is not None:
        extra["assistant_id"] = assistant
    if latest_run is not None and (run_id := as_str(latest_run.get("run_id"))) is not None:
        extra["run_id"] = run_id
        extra["run_status"] = as_str(latest_run.get("status"))
    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=upstream_status,
        raw=data,
        workflow=Workflow(
            id=as_str(metadata.get("graph_id")), name=as_str(metadata.get("graph_id"))
        ),
        inputs=first_kwargs.get("input") if first_kwargs else None,
        outputs=data.get("values"),
        steps=steps,
        approvals=tuple(approvals),
        created_at=created_at,
        started_at=started_at,
        completed_at=completed_at,
        updated_at=updated_at,
        duration_ms=duration_ms_between(started_at, completed_at),
        error=error,
        current_step=_current_step(checkpoints),
        extra=extra,
    )


def parse_thread_page(payload: Any, *, offset: int, limit: int) -> ExecutionPage:
    """A ``POST /threads/search`` reply (a JSON array) → one page; items have no steps."""
    if not isinstance(payload, list):
        require_dict(payload, "thread list")  # raises: the documented reply is an array
    items = tuple(parse_thread(ThreadParts(thread=item)) for item in payload)
    more = len(payload) >= limit
    return ExecutionPage(
        items=items,
        next_cursor=str(offset + len(payload)) if more else None,
        complete=False,
        is_last=not more,
    )


def _status(
    upstream: str | None,
    thread: dict[str, Any],
    pending: Mapping[str, tuple[str, Any]],
    latest_run: dict[str, Any] | None,
) -> ExecutionStatus:
    run_status = as_str(latest_run.get("status")) if latest_run else None
    if upstream == "busy":
        return ExecutionStatus.PENDING if run_status == "pending" else ExecutionStatus.RUNNING
    if upstream == "interrupted":
        if pending:
            return ExecutionStatus.WAITING_FOR_APPROVAL
        # A cancelled run (action=interrupt) leaves the thread interrupted, with no interrupt.
        cancelled = _error(thread.get("error"))
        if run_status == "interrupted" or (cancelled and cancelled.code == "UserInterrupt"):
            return ExecutionStatus.CANCELLED
        return ExecutionStatus.UNKNOWN  # a static breakpoint: nothing to approve by id
    if upstream == "error":
        return ExecutionStatus.TIMED_OUT if run_status == "timeout" else ExecutionStatus.FAILED
    if upstream == "idle":
        if run_status in _IDLE_BY_RUN:
            return _IDLE_BY_RUN[run_status]
        return (
            ExecutionStatus.PENDING if thread.get("values") is None else ExecutionStatus.COMPLETED
        )
    return ExecutionStatus.UNKNOWN


def _error(value: object) -> ErrorInfo | None:
    """The thread's ``error``: ``{"error": <type>, "message"}`` (read from the server)."""
    if isinstance(value, str) and value:
        return ErrorInfo(code=None, message=value)
    data = as_dict(value)
    if not data:
        return None
    return ErrorInfo(code=as_str(data.get("error")), message=as_str(data.get("message")))


def _pending_interrupts(value: object) -> dict[str, tuple[str, Any]]:
    """The thread's ``interrupts`` (task id → [{id, value}]) → interrupt id → (task id, value)."""
    found: dict[str, tuple[str, Any]] = {}
    for task_id, interrupts in (as_dict(value) or {}).items():
        for interrupt in as_list(interrupts):
            data = as_dict(interrupt)
            interrupt_id = as_str(data.get("id")) if data else None
            if data is not None and interrupt_id:
                found[interrupt_id] = (task_id, data.get("value"))
    return found


def _steps(checkpoints: list[dict[str, Any]], status: ExecutionStatus) -> tuple[Step, ...]:
    """Each checkpoint's tasks ran between it and the next one (oldest first)."""
    steps: list[Step] = []
    for position, checkpoint in enumerate(checkpoints):
        started = iso_datetime(checkpoint.get("created_at"))
        following = checkpoints[position + 1] if position + 1 < len(checkpoints) else None
        ended = iso_datetime(following.get("created_at")) if following else None
        for task in as_list(checkpoint.get("tasks")):
            data = as_dict(task)
            name = as_str(data.get("name")) if data else None
            task_id = as_str(data.get("id")) if data else None
            if data is None or not task_id or name == _START_TASK:
                continue
            steps.append(_step(len(steps), task_id, name, data, started, ended, status))
    return tuple(steps)


def _step(
    index: int,
    task_id: str,
    name: str | None,
    task: dict[str, Any],
    started: datetime | None,
    ended: datetime | None,
    status: ExecutionStatus,
) -> Step:
    interrupts = [i for i in as_list(task.get("interrupts")) if isinstance(i, dict)]
    error = _error(task.get("error"))
    has_result = task.get("result") is not None
    if error is not None:
        step_status = StepStatus.FAILED
    elif has_result or ended is not None:
        step_status = StepStatus.COMPLETED
    elif interrupts and status is ExecutionStatus.WAITING_FOR_APPROVAL:
        step_status = StepStatus.WAITING_FOR_APPROVAL
    elif status in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING):
        step_status = StepStatus.RUNNING
    elif status is ExecutionStatus.CANCELLED:
        step_status = StepStatus.CANCELLED
    else:
        step_status = StepStatus.PENDING
    return Step(
        native_id=task_id,
        index=index,
        name=name,
        kind=StepKind.HUMAN_APPROVAL if interrupts else StepKind.UNKNOWN,
        status=step_status,
        upstream_kind="node",
        input={"interrupts": interrupts} if interrupts else None,
        output=task.get("result"),
        error=error,
        started_at=started,
        completed_at=ended if step_status is StepStatus.COMPLETED else None,
        duration_ms=duration_ms_between(started, ended),
    )


def _interrupt_ids(step_input: Any) -> list[str]:
    data = as_dict(step_input) or {}
    return [i for i in (as_str(x.get("id")) for x in as_list(data.get("interrupts"))) if i]


def _current_step(checkpoints: list[dict[str, Any]]) -> str | None:
    if not checkpoints:
        return None
    following = [n for n in (as_str(x) for x in as_list(checkpoints[-1].get("next"))) if n]
    return following[0] if following else None


def _message(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    data = as_dict(value) or {}
    return as_str(data.get("question")) or as_str(data.get("message"))


def _pending_approval(
    interrupt_id: str, task_id: str, value: Any, asked_at: datetime | None
) -> Approval:
    return Approval(
        key=interrupt_id,
        status=ApprovalStatus.PENDING,
        step_native_id=task_id,
        message=_message(value),
        context=value,
        requested_at=asked_at,
    )


def _approvals(
    checkpoints: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    pending: Mapping[str, tuple[str, Any]],
    asked_at: Mapping[str, datetime | None],
) -> list[Approval]:
    """Every interrupt of the thread and its history, decided where a run answered it.

    A run whose ``command.resume`` names the interrupt decides it, even while the thread still
    shows it (the run is queued). A bare resume value answers the latest open interrupt asked
    before its run was created (inferred: the server resumes the interrupt then waiting). An
    interrupt gone from the thread that no run read here answered shows as APPROVED: the graph
    went on past it (inferred).
    """
    asked: dict[str, tuple[str, Any, datetime | None]] = {}
    for checkpoint in checkpoints:
        at = iso_datetime(checkpoint.get("created_at"))
        for task in as_list(checkpoint.get("tasks")):
            data = as_dict(task) or {}
            task_id = as_str(data.get("id")) or ""
            for interrupt in as_list(data.get("interrupts")):
                item = as_dict(interrupt) or {}
                interrupt_id = as_str(item.get("id"))
                if interrupt_id and interrupt_id not in asked:
                    asked[interrupt_id] = (task_id, item.get("value"), at)
    for interrupt_id, (task_id, value) in pending.items():
        if interrupt_id not in asked:
            asked[interrupt_id] = (task_id, value, asked_at.get(interrupt_id))
    answers: dict[str, tuple[Any, dict[str, Any]]] = {}
    for run in reversed(runs):  # oldest first
        command = as_dict((as_dict(run.get("kwargs")) or {}).get("command"))
        if command is None or "resume" not in command:
            continue
        resume = command["resume"]
        if isinstance(resume, dict) and resume and all(key in asked for key in resume):
            for key, value in resume.items():
                answers.setdefault(key, (value, run))
            continue
        created = iso_datetime(run.get("created_at"))
        open_ = [
            key
            for key, (_, _, at) in asked.items()
            if key not in answers and (created is None or at is None or at <= created)
        ]
        if open_:
            answers[open_[-1]] = (resume, run)
    return [
        _pending_approval(key, task_id, value, at)
        if key in pending and key not in answers
        else _decided_approval(key, task_id, value, at, answers.get(key))
        for key, (task_id, value, at) in asked.items()
    ]


def _decided_approval(
    interrupt_id: str,
    task_id: str,
    value: Any,
    asked_at: datetime | None,
    answer: tuple[Any, dict[str, Any]] | None,
) -> Approval:
    status, notes, decided_by, decided_at = ApprovalStatus.APPROVED, None, None, None
    if answer is not None:
        resume, run = answer
        data = as_dict(resume)
        word = as_str(data.get("decision")) if data else as_str(resume)
        # Inferred: the graph went on past its interrupt; only the reject value says no.
        status = ApprovalStatus.REJECTED if word == "reject" else ApprovalStatus.APPROVED
        notes = as_str(data.get("notes")) if data else None
        metadata = as_dict(run.get("metadata")) or {}
        decided_by = (as_str(data.get("reviewer")) if data else None) or as_str(
            metadata.get(REVIEWER_KEY)
        )
        decided_at = iso_datetime(run.get("created_at"))
    return Approval(
        key=interrupt_id,
        status=status,
        step_native_id=task_id,
        reviewers=(Reviewer(id=decided_by, decision=status),) if decided_by else (),
        message=_message(value),
        context=value,
        requested_at=asked_at,
        decided_at=decided_at,
        decided_by=decided_by,
        notes=notes,
    )


def _thread_id(native_id: str, source: str) -> str:
    """Thread ids are UUIDs (OpenAPI ``format: uuid``): anything else is not there, refused
    without a call."""
    try:
        uuid.UUID(native_id)
    except ValueError:
        raise ExecutionNotFound(
            "thread ids are UUIDs", source=source, native_id=native_id[:100]
        ) from None
    return native_id


WEBHOOK_PATH = "/webhooks/{}"
"""The gateway's webhook route for a source (docs/live.md), under ``webhook_base_url``."""
RUN_END_STATUSES = frozenset({"success", "error", "timeout", "interrupted"})
"""The documented run statuses a run ends with (``pending``/``running`` never end one): each is a
change of its thread. The server also posts ``rollback`` (read from its code), undocumented."""


def run_thread(body: Any) -> str | None:
    """The thread a run webhook names (``thread_id``), the value its URL token is bound to."""
    return text(body.get("thread_id")) if isinstance(body, dict) else None


def read_run_event(body: Any) -> WebhookEvent:
    """A run webhook: the run as ``GET /runs/{id}`` shows it with its final ``status`` (plus
    ``run_started_at``/``run_ended_at``/``webhook_sent_at``/``values``/``error``). The event is
    the run's end: ``<run_id>:<status>``. The body is unsigned (only its thread is vouched for, by
    the URL token), so its ``webhook_sent_at`` proves nothing and is not read."""
    run = event_body(body)
    run_id, status = identified(text(run.get("run_id")), text(run.get("status")))
    known = status in RUN_END_STATUSES
    return WebhookEvent(f"{run_id}:{status}", status, run_thread(run), known, sent_at=None)


@dataclass(frozen=True, slots=True)
class LangGraphOptions:
    resume_format: ResumeFormat = "word"
    """What a decision resumes the graph with: ``word`` (``"approve"``/``"reject"``) or
    ``object`` (``{"decision", "notes", "reviewer"}``)."""
    webhook_base_url: str | None = None
    """The URL the Agent Server reaches this gateway at (``https://gateway.example.com``): each
    run the gateway creates asks the server to post its end to
    ``<base>/webhooks/<source>?token=<HMAC of the thread id>``. None: no webhooks, polled."""


class LangGraphAdapter(SourceAdapter):
    """Threads of one Agent Server deployment; ``resume_format`` (``word``/``object``) is the
    source's option for what a decision sends."""

    kind = SourceKind.LANGGRAPH
    secrets = (Secret("api_key", required=False),)  # the local dev server takes none
    options_type = LangGraphOptions
    options: LangGraphOptions
    capabilities = frozenset({Capability.GET, Capability.LIST, Capability.APPROVE})
    waiting_status = ExecutionStatus.WAITING_FOR_APPROVAL
    actions = frozenset({RunAction.START, RunAction.CANCEL})
    webhooks = Webhooks(
        None,
        None,
        read_run_event,
        covers_every_change=False,
        url_token=UrlToken("token", run_thread),
    )
    """The server signs nothing, so the URL it is given carries a token bound to the thread. Each
    run's end is posted (a run stopping at ``interrupt(...)`` ends ``success`` with its thread
    ``interrupted``: read from the server), but not every change is: a run's start is not, runs
    created elsewhere carry no webhook, and a delivery is dropped after 3 attempts. So a watched
    thread is polled too."""

    def __init__(self, name: str, http: SourceHTTP, options: object | None = None) -> None:
        super().__init__(name, http, options)
        self._webhook_secret: str | None = None
        """The source's current webhook secret, given by ``create`` (credentials)."""

    @classmethod
    def option_problems(cls, options: Any, secrets: frozenset[str]) -> Iterator[tuple[str, str]]:
        base = options.webhook_base_url
        if base is None:
            return
        if urlsplit(base).scheme not in ("http", "https") or "?" in base:
            yield "webhook_base_url", f"'{base}' must be an http(s) URL without a query"
        if WEBHOOK_SECRET not in secrets:
            yield (
                "webhook_base_url",
                "needs webhook_secret_env (the webhook URLs' tokens are signed with it)",
            )

    @classmethod
    def create(cls, *, credentials: Credentials, **settings: Any) -> SourceAdapter:
        """As every kind, keeping the source's current webhook secret (``WEBHOOK_SECRET``): the
        webhook URLs it gives the server carry tokens signed with it."""
        adapter = super().create(credentials=credentials, **settings)
        assert isinstance(adapter, LangGraphAdapter)
        adapter._webhook_secret = credentials.get(WEBHOOK_SECRET)
        return adapter

    def webhook(self, thread_id: str) -> dict[str, str]:
        """The ``webhook`` field of a run created on ``thread_id``; none without a base URL."""
        base, secret = self.options.webhook_base_url, self._webhook_secret
        if base is None or not secret:
            return {}
        path = WEBHOOK_PATH.format(quote(self.name, safe=""))
        token = UrlToken.token(secret, thread_id)
        return {"webhook": f"{base.rstrip('/')}{path}?token={token}"}

    @staticmethod
    def partition(execution: Execution) -> str | None:
        """The thread's graph (``metadata.graph_id``, set by its first run)."""
        return execution.workflow.id if execution.workflow is not None else None

    @staticmethod
    def auth_headers(credentials: Credentials) -> Mapping[str, str]:
        """A deployment takes ``x-api-key``; the local dev server needs none."""
        key = credentials.get("api_key")
        return {"x-api-key": key} if key else {}

    @property
    def resume_format(self) -> str:
        return self.options.resume_format

    async def get_execution(self, native_id: str) -> Execution:
        thread_id = _thread_id(native_id, self.name)
        thread, runs, history = await asyncio.gather(
            self.http.request_json("GET", THREAD_PATH, thread_id, native_id=native_id),
            self.http.request_json(
                "GET", RUNS_PATH, thread_id, params={"limit": RUNS_LIMIT}, native_id=native_id
            ),
            self.http.request_json(
                "POST",
                HISTORY_PATH,
                thread_id,
                json={"limit": HISTORY_LIMIT},
                native_id=native_id,
                idempotent=True,
            ),
        )
        return self.parsed(parse_thread, ThreadParts(thread, runs, history), native_id)

    async def list_executions(
        self, *, cursor: str | None, page_size: int, status: ExecutionStatus | None = None
    ) -> ExecutionPage:
        """``POST /threads/search``, newest update first; the cursor is the offset."""
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        limit = max(1, min(page_size, MAX_PAGE_SIZE))
        body: dict[str, Any] = {
            "limit": limit,
            "offset": offset,
            "sort_by": "updated_at",
            "sort_order": "desc",
        }
        if status is not None and status in _SEARCH_FILTER:
            body["status"] = _SEARCH_FILTER[status]
        payload = await self.http.request_json("POST", SEARCH_PATH, json=body, idempotent=True)
        return self.parsed(
            lambda p: parse_thread_page(p, offset=offset, limit=limit), payload, None
        )

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
        """One background run resuming exactly this interrupt, refused (409, CONFLICT) while
        another run is on the thread. Sent once; when the reply is lost, the thread's runs are
        read back for the one carrying this idempotency key."""
        graph = execution.workflow.id if execution.workflow else None
        assistant = graph or as_str(execution.extra.get("assistant_id"))
        if not assistant:
            raise UpstreamConflict(
                "the thread names no graph to resume",
                source=self.name,
                native_id=execution.native_id,
            )
        value = resume_value(self.resume_format, decision, notes=notes, reviewer=reviewer_id)
        metadata = {DECISION_KEY: idempotency_key}
        if reviewer_id:
            metadata[REVIEWER_KEY] = reviewer_id
        body = {
            "assistant_id": assistant,
            "command": {"resume": {approval.key: value}},
            "multitask_strategy": "reject",
            "metadata": metadata,
        }
        thread_id = _thread_id(execution.native_id, self.name)
        body |= self.webhook(thread_id)
        try:
            await self.http.request_json(
                "POST", RUNS_PATH, thread_id, json=body, native_id=thread_id, idempotent=False
            )
        except (UpstreamTimeout, UpstreamUnavailable) as exc:
            reached = isinstance(exc, UpstreamTimeout) or exc.http_status is not None
            if not reached or not await self._decision_sent(thread_id, idempotency_key):
                raise
        status = (
            ApprovalStatus.APPROVED if decision is Decision.APPROVE else ApprovalStatus.REJECTED
        )
        return DecisionOutcome(
            approval_status=status, requested=decision, recorded_decision=decision
        )

    async def _decision_sent(self, thread_id: str, idempotency_key: str) -> bool:
        try:
            runs = await self.http.request_json(
                "GET", RUNS_PATH, thread_id, params={"limit": RUNS_LIMIT}, native_id=thread_id
            )
        except UpstreamError:
            return False
        return any(
            (as_dict(run.get("metadata")) or {}).get(DECISION_KEY) == idempotency_key
            for run in as_list(runs)
            if isinstance(run, dict)
        )

    async def start(self, request: StartRequest) -> StartOutcome:
        """``POST /threads/{id}/runs`` with ``if_not_exists: "create"``: one call makes the thread
        and its run. The thread id is derived from the gateway's key, so a repeated start lands on
        the same thread (refused with 409 while its run is on it)."""
        if not request.workflow_id:
            raise UpstreamRejected(
                "a LangGraph start needs a graph or assistant id", source=self.name
            )
        thread_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gateway:{request.idempotency_key}"))
        metadata: dict[str, Any] = {}
        if request.correlation_id:
            metadata["correlation_id"] = request.correlation_id
        await self.http.request_json(
            "POST",
            RUNS_PATH,
            thread_id,
            json={
                "assistant_id": request.workflow_id,
                "input": request.inputs,
                "if_not_exists": "create",
                "multitask_strategy": "reject",
                "metadata": metadata,
                **self.webhook(thread_id),
            },
            idempotent=False,
        )
        return StartOutcome(native_id=thread_id, execution=None)

    async def cancel(self, native_id: str, *, reason: str | None) -> None:
        """Cancels every pending or running run of the thread (``action=interrupt``, the default);
        CONFLICT when none is."""
        thread_id = _thread_id(native_id, self.name)
        runs = await self.http.request_json(
            "GET", RUNS_PATH, thread_id, params={"limit": RUNS_LIMIT}, native_id=native_id
        )
        active = [
            run_id
            for run in as_list(runs)
            if isinstance(run, dict)
            and as_str(run.get("status")) in _ACTIVE_RUNS
            and (run_id := as_str(run.get("run_id")))
        ]
        if not active:
            raise UpstreamConflict("no run in progress", source=self.name, native_id=native_id)
        for run_id in active:
            try:  # 202 with an empty body (read from the server): acceptance all the same
                await self.http.request_json(
                    "POST", CANCEL_PATH, thread_id, run_id, native_id=native_id, idempotent=False
                )
            except UpstreamBadResponse as exc:
                if exc.http_status is None or not 200 <= exc.http_status < 300:
                    raise
