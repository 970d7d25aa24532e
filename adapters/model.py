"""The unified execution model every adapter produces.

Frozen dataclasses and enums only: nothing here knows GraphQL or HTTP. Each object keeps the
upstream's own word for its status (``upstream_status``) so a value we could not map is never lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime
    from decimal import Decimal

__all__ = [
    "TERMINAL_STATUSES",
    "Approval",
    "ApprovalStatus",
    "Cost",
    "ErrorInfo",
    "Execution",
    "ExecutionStatus",
    "Money",
    "Reviewer",
    "SourceKind",
    "Step",
    "StepKind",
    "StepStatus",
    "Workflow",
]

JSONObject = dict[str, Any]


class SourceKind(enum.Enum):
    """The upstream API styles the gateway speaks."""

    ROTAVISION = "rotavision"
    VELT = "velt"
    NESTING = "nesting"
    TRUTHLOCKS = "truthlocks"
    LANGGRAPH = "langgraph"


class ExecutionStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING_FOR_APPROVAL = "WAITING_FOR_APPROVAL"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    UNKNOWN = "UNKNOWN"


class StepStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING_FOR_APPROVAL = "WAITING_FOR_APPROVAL"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"


class StepKind(enum.Enum):
    AGENT = "AGENT"
    TOOL = "TOOL"
    CODE = "CODE"
    SEARCH = "SEARCH"
    HUMAN_APPROVAL = "HUMAN_APPROVAL"
    NOTIFICATION = "NOTIFICATION"
    WEBHOOK = "WEBHOOK"
    GUARDRAIL = "GUARDRAIL"
    DECISION = "DECISION"
    TRANSFORM = "TRANSFORM"
    SUB_EXECUTION = "SUB_EXECUTION"
    UNKNOWN = "UNKNOWN"


class ApprovalStatus(enum.Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


TERMINAL_STATUSES = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    }
)
"""Statuses an execution never leaves: what makes a cached copy safe to keep for long."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217, upper case


@dataclass(frozen=True, slots=True)
class Cost:
    """What an execution cost: money in one or more currencies, and/or platform credits."""

    amounts: tuple[Money, ...] = ()
    credits: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class Workflow:
    id: str | None
    name: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Reviewer:
    """Someone who may decide an approval; ``decision`` is None while they have not voted."""

    id: str
    mandatory: bool | None = None
    decision: ApprovalStatus | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    """A human decision an execution waits on, or took.

    ``key`` identifies the approval within its execution: the step's native id where the upstream
    approves per step (Velt), or ``""`` where it approves per execution (Rotavision).
    """

    key: str
    status: ApprovalStatus
    step_native_id: str | None = None
    reviewers: tuple[Reviewer, ...] = ()
    message: str | None = None
    context: Any = None
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    notes: str | None = None
    approve_count: int | None = None
    reject_count: int | None = None
    required_count: int | None = None
    due_at: datetime | None = None
    """When a decision is due, where the upstream states a deadline (Velt: the human node's
    ``slaMs`` from the step's start); None where it states none."""


@dataclass(frozen=True, slots=True)
class Step:
    native_id: str
    index: int
    name: str | None
    kind: StepKind
    status: StepStatus
    upstream_status: str | None = None
    upstream_kind: str | None = None
    input: Any = None
    output: Any = None
    error: ErrorInfo | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    group_id: str | None = None
    agent_id: str | None = None
    child_native_id: str | None = None
    """For SUB_EXECUTION steps: the native id of the child execution this step stands for."""


@dataclass(frozen=True, slots=True)
class Execution:
    native_id: str
    status: ExecutionStatus
    upstream_status: str | None
    raw: JSONObject
    workflow: Workflow | None = None
    inputs: Any = None
    outputs: Any = None
    steps: tuple[Step, ...] = ()
    approvals: tuple[Approval, ...] = ()
    cost: Cost | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    duration_ms: int | None = None
    error: ErrorInfo | None = None
    parent_native_id: str | None = None
    child_native_ids: tuple[str, ...] = ()
    correlation_id: str | None = None
    idempotency_key: str | None = None
    receipts: tuple[str, ...] = ()
    is_purged: bool = False
    current_step: str | None = None
    extra: JSONObject = field(default_factory=dict)
    """Kind-specific facts worth keeping that have no unified field (e.g. Zaia's responderId)."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def approval(self, key: str) -> Approval | None:
        return next((a for a in self.approvals if a.key == key), None)
