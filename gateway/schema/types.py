"""GraphQL object types over the adapters' model (design §3).

Each type is built from a frozen model object by ``from_model``; fields that need another
execution (``parent``, ``children``) go through the request's loaders.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from adapters import model
from adapters.base import Capability as ModelCapability
from adapters.base import RunAction as ModelRunAction
from gateway.core import decision_rules, ids
from gateway.core.merge import status_needs_steps
from gateway.core.runtime import Runtime
from gateway.gate import CallCost
from gateway.schema.cacheability import FIXED
from gateway.schema.computed import Computed
from gateway.schema.connections import PAGED
from gateway.schema.context import Context
from gateway.schema.history import ExecutionEventConnection, execution_events, upstream_log

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gateway.ops.stats import SourceStats as SourceStatsModel

__all__ = [
    "Approval",
    "ApprovalStatus",
    "Capability",
    "Cost",
    "DecisionDenial",
    "DecisionPermission",
    "Error",
    "Execution",
    "ExecutionStatus",
    "Money",
    "Node",
    "Reviewer",
    "RunAction",
    "Source",
    "SourceHealth",
    "SourceKind",
    "SourceStats",
    "Step",
    "StepKind",
    "StepStatus",
    "Workflow",
    "approval_overdue",
]

_T = TypeVar("_T")

_LOADED = CallCost(upstream_calls=1)
"""A field returning the type may load it from an upstream: one call per item."""

# The model's enums are the GraphQL enums: registering them keeps one definition of each.
ExecutionStatus = model.ExecutionStatus
StepStatus = model.StepStatus
StepKind = model.StepKind
ApprovalStatus = model.ApprovalStatus
SourceKind = model.SourceKind
Capability = ModelCapability
RunAction = ModelRunAction
strawberry.enum(ExecutionStatus, description="Unified execution status.")
strawberry.enum(StepStatus, description="Unified step status.")
strawberry.enum(StepKind, description="What a step does, across upstreams.")
strawberry.enum(ApprovalStatus)
strawberry.enum(SourceKind, description="The upstream API style of a source.")
strawberry.enum(Capability, description="What a source can do.")
strawberry.enum(RunAction, description="Run control a source offers (startExecution, ...).")
DecisionDenial = decision_rules.Denial
strawberry.enum(
    DecisionDenial,
    name="DecisionDenial",
    description="Why the caller may not decide an approval; the decision mutations refuse for "
    'the same reason (docs/approvals.md, "The inbox").',
)


@strawberry.type(
    description="Whether the caller may decide this approval now, by the rules approve, reject "
    "and decideMany apply: allowed here means the mutation sends the decision upstream."
)
class DecisionPermission:
    allowed: bool
    reason: DecisionDenial | None = strawberry.field(description="Null when allowed.")
    message: str | None = strawberry.field(description="The reason in words; null when allowed.")

    @classmethod
    def from_model(cls, permission: decision_rules.Permission) -> DecisionPermission:
        return cls(allowed=permission.allowed, reason=permission.denial, message=permission.message)


@strawberry.enum(description="A source's recent health, from the outcome of its last calls.")
class SourceHealth(enum.Enum):
    UP = "UP"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"


@strawberry.interface(
    description="An object with a stable, globally unique id.", directives=[_LOADED, FIXED]
)
class Node:
    @strawberry.field(description="Stable and globally unique; node(id:) resolves it.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError


@strawberry.type(directives=[FIXED])
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD, INR.")


@strawberry.type(directives=[FIXED])
class Cost:
    amounts: list[Money]
    credits: Decimal | None = strawberry.field(description="Platform credits (not money).")


@strawberry.type(
    description="An error an upstream reported for an execution or step.", directives=[FIXED]
)
class Error:
    code: str | None
    message: str | None


@strawberry.type(directives=[FIXED])
class Workflow:
    id: str | None
    name: str | None
    version: str | None


@strawberry.type(directives=[FIXED])
class Reviewer:
    id: str
    mandatory: bool | None
    decision: ApprovalStatus | None = strawberry.field(
        description="Null while they have not voted."
    )


@strawberry.type(description="Counters since start-up for one source.")
class SourceStats:
    upstream_calls: int
    upstream_errors: int
    cache_hits: int
    cache_misses: int
    shared_fetches: int
    batches: int
    batched_keys: int
    max_batch_size: int

    @classmethod
    def from_model(cls, stats: SourceStatsModel) -> SourceStats:
        return cls(
            upstream_calls=stats.upstream_calls,
            upstream_errors=stats.upstream_errors,
            cache_hits=stats.cache_hits,
            cache_misses=stats.cache_misses,
            shared_fetches=stats.shared_fetches,
            batches=stats.batches,
            batched_keys=stats.batched_keys,
            max_batch_size=stats.max_batch_size,
        )


@strawberry.type(description="A configured upstream.")
class Source:
    name: str = strawberry.field(directives=[FIXED])
    kind: SourceKind = strawberry.field(directives=[FIXED])
    capabilities: list[Capability] = strawberry.field(directives=[FIXED])
    actions: list[RunAction] = strawberry.field(
        description="The run control this source's upstream documents; the rest is refused "
        "as UNSUPPORTED without an upstream call."
    )
    _runtime: strawberry.Private[Runtime]

    @classmethod
    def from_runtime(cls, runtime: Runtime, name: str) -> Source:
        config = runtime.sources[name]
        from adapters.registry import adapter_class

        adapter = adapter_class(config.kind)
        capabilities = sorted(adapter.capabilities, key=lambda c: c.value)
        actions = sorted(adapter.actions, key=lambda a: a.value)
        return cls(
            name=name,
            kind=config.kind,
            capabilities=capabilities,
            actions=actions,
            _runtime=runtime,
        )

    @strawberry.field(
        description="DOWN while the circuit breaker is open (calls fail fast), DEGRADED while it "
        "probes or after failed calls, else UP."
    )
    def health(self) -> SourceHealth:
        circuit = self._circuit_state()
        if circuit == "open":
            return SourceHealth.DOWN
        failing = self._runtime.stats[self.name].consecutive_failures > 0
        return SourceHealth.DEGRADED if failing or circuit == "half_open" else SourceHealth.UP

    @strawberry.field(description="The circuit breaker's state: closed, open or half_open.")
    def circuit_state(self) -> str:
        return self._circuit_state()

    def _circuit_state(self) -> str:
        adapter = self._runtime.adapters.get(self.name)
        return adapter.http.circuit_state if adapter is not None else "closed"

    @strawberry.field
    def stats(self) -> SourceStats:
        return SourceStats.from_model(self._runtime.stats[self.name])


def _error(value: model.ErrorInfo | None) -> Error | None:
    return Error(code=value.code, message=value.message) if value else None


@strawberry.type(
    description="A human decision an execution waits for (or recorded): who may decide, what "
    "they decided, and the step it belongs to. Decide with approve / reject.",
    directives=[FIXED],
)
class Approval(Node):
    status: ApprovalStatus
    reviewers: list[Reviewer]
    message: str | None
    context: JSON | None
    requested_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    notes: str | None
    approve_count: int | None
    reject_count: int | None
    required_count: int | None = strawberry.field(
        description="Approvals needed to resolve, if known."
    )
    due_at: datetime | None = strawberry.field(
        description="When a decision is due, where the upstream states a deadline (Velt: the "
        "human node's slaMs from the step's start); null where it states none."
    )
    _execution: strawberry.Private[Execution]
    _model: strawberry.Private[model.Approval]

    @strawberry.field(
        description="Whether the deadline was missed: dueAt has passed while the approval is "
        "still pending, or the upstream timed its step out (Velt breached)."
    )
    def overdue(self) -> bool:
        return approval_overdue(self._model, self._execution._model, datetime.now(UTC))

    @strawberry.field
    def id(self) -> strawberry.ID:
        """Computed when asked: most queries never select it, and it costs an encode."""
        execution = self._execution
        return strawberry.ID(
            ids.approval_id(execution.source_name, execution.native_id, self._model.key)
        )

    @classmethod
    def from_model(cls, execution: Execution, approval: model.Approval) -> Approval:
        return cls(
            status=approval.status,
            reviewers=[
                Reviewer(id=r.id, mandatory=r.mandatory, decision=r.decision)
                for r in approval.reviewers
            ],
            message=approval.message,
            context=approval.context,
            requested_at=approval.requested_at,
            decided_at=approval.decided_at,
            decided_by=approval.decided_by,
            notes=approval.notes,
            approve_count=approval.approve_count,
            reject_count=approval.reject_count,
            required_count=approval.required_count,
            due_at=approval.due_at,
            _execution=execution,
            _model=approval,
        )

    @strawberry.field
    def execution(self) -> Execution:
        return self._execution

    @strawberry.field(
        description="Whether the caller may decide it now, and why not: the same rules the "
        "decision mutations apply (role, scope, still waiting, declared reviewer, own vote, "
        "four-eyes)."
    )
    async def viewer_can_decide(self, info: Info[Context, None]) -> DecisionPermission:
        context = info.context
        execution = self._execution
        permission = await decision_rules.permission(
            context.runtime, context.caller, execution.source_name, execution._model, self._model
        )
        return DecisionPermission.from_model(permission)

    @strawberry.field(description="The step that waits (or waited) for this decision, if any.")
    def step(self) -> Step | None:
        native = self._model.step_native_id
        return next((s for s in self._execution.step_list() if s.native_id == native), None)


def approval_overdue(approval: model.Approval, execution: model.Execution, now: datetime) -> bool:
    """Missed: still pending past ``due_at``, or its step timed out upstream (a breach is
    terminal, so the approval is no longer pending but was missed all the same)."""
    if approval.status is model.ApprovalStatus.PENDING:
        return approval.due_at is not None and now >= approval.due_at
    step = next((s for s in execution.steps if s.native_id == approval.step_native_id), None)
    return step is not None and step.status is model.StepStatus.TIMED_OUT


@strawberry.type(
    description="One step of an execution (an agent, a tool, a human approval…), in the "
    "upstream's order, with its unified kind and status.",
    directives=[FIXED],
)
class Step(Node):
    name: str | None
    kind: StepKind
    status: StepStatus
    index: int
    native_id: str
    upstream_status: str | None
    upstream_kind: str | None
    output: JSON | None
    error: Error | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    group_id: str | None
    _execution: strawberry.Private[Execution]

    @strawberry.field
    def id(self) -> strawberry.ID:
        """Computed when asked: most queries never select it, and it costs an encode."""
        execution = self._execution
        return strawberry.ID(
            ids.step_id(execution.source_name, execution.native_id, self.native_id)
        )

    @classmethod
    def from_model(cls, execution: Execution, step: model.Step) -> Step:
        return cls(
            native_id=step.native_id,
            index=step.index,
            name=step.name,
            kind=step.kind,
            status=step.status,
            upstream_status=step.upstream_status,
            upstream_kind=step.upstream_kind,
            output=step.output,
            error=_error(step.error),
            started_at=step.started_at,
            completed_at=step.completed_at,
            duration_ms=step.duration_ms,
            group_id=step.group_id,
            _execution=execution,
        )

    @strawberry.field(directives=[CallCost(upstream_calls=0)])
    def execution(self) -> Execution:
        """The execution the step was loaded with: no call of its own."""
        return self._execution

    @strawberry.field(
        description="The approval this step waits for or recorded, if it is a human step."
    )
    def approval(self) -> Approval | None:
        return next(
            (
                a
                for a in self._execution.approval_list()
                if a._model.step_native_id == self.native_id
            ),
            None,
        )


@strawberry.type(
    description="One run of a workflow on one source, in the unified model: its status, steps "
    "and approvals; `raw` keeps the upstream's own payload, unchanged.",
    directives=[_LOADED, FIXED],
)
class Execution(Node):
    id: strawberry.ID
    """A plain field filled by ``from_model``: the id is a cheap join, and strawberry answers a
    plain field without its resolver machinery (an Info object, argument handling, wrappers)."""
    status: ExecutionStatus
    """``Computed`` (gateway/schema/computed.py) where it needs the full execution loaded."""
    steps: list[Step]
    """Always ``Computed``: built when asked, loading the full execution for a list item."""
    workflow: Workflow | None
    native_id: str
    upstream_status: str | None = strawberry.field(description="The upstream's own status word.")
    inputs: JSON | None
    outputs: JSON | None
    cost: Cost | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None
    duration_ms: int | None
    error: Error | None
    correlation_id: str | None
    idempotency_key: str | None
    receipts: list[str]
    is_purged: bool = strawberry.field(
        description="The upstream has purged this execution's detail."
    )
    source_name: strawberry.Private[str]
    _model: strawberry.Private[model.Execution]
    _partial: strawberry.Private[bool] = False
    """A list item without what only a get returns (Velt's steps, a nesting run's children):
    ``steps``, ``approvals``, ``children`` and a status that steps may refine then load the full
    execution through the request's loaders, so a page of them costs one batched round."""

    @classmethod
    def from_model(
        cls,
        source: str,
        execution: model.Execution,
        *,
        partial: bool = False,
        context: Context | None = None,
    ) -> Execution:
        """``partial``: a list item without what only a get returns; its ``context`` loads the
        rest when a field needs it."""
        cost = execution.cost
        workflow = execution.workflow
        built = cls(
            id=strawberry.ID(ids.execution_id(source, execution.native_id)),
            native_id=execution.native_id,
            upstream_status=execution.upstream_status,
            workflow=Workflow(id=workflow.id, name=workflow.name, version=workflow.version)
            if workflow
            else None,
            inputs=execution.inputs,
            outputs=execution.outputs,
            cost=Cost(
                amounts=[Money(amount=m.amount, currency=m.currency) for m in cost.amounts],
                credits=cost.credits,
            )
            if cost
            else None,
            created_at=execution.created_at,
            started_at=execution.started_at,
            completed_at=execution.completed_at,
            updated_at=execution.updated_at,
            duration_ms=execution.duration_ms,
            error=_error(execution.error),
            correlation_id=execution.correlation_id,
            idempotency_key=execution.idempotency_key,
            receipts=list(execution.receipts),
            is_purged=execution.is_purged,
            status=execution.status,
            steps=cast("list[Step]", _STEPS),
            source_name=source,
            _model=execution,
            _partial=partial,
        )
        if partial:
            if context is None:
                raise ValueError("a partial execution needs the request's context")
            built.status = cast("ExecutionStatus", Computed(_partial_status(context)))
            built.steps = cast("list[Step]", Computed(_partial_steps(context)))
        return built

    @strawberry.field
    def source(self, info: Info[Context, None]) -> Source:
        return Source.from_runtime(info.context.runtime, self.source_name)

    def step_list(self) -> list[Step]:
        return [Step.from_model(self, s) for s in self._model.steps]

    def approval_list(self) -> list[Approval]:
        return [Approval.from_model(self, a) for a in self._model.approvals]

    def _full(self, context: Context, pick: Callable[[Execution], _T]) -> Awaitable[_T]:
        """``pick`` applied to the full execution, loaded now (so one tick's loads batch)."""
        future = context.loaders.execution(self.source_name, self._model.native_id)

        async def picked() -> _T:
            return pick(Execution.from_model(self.source_name, await future))

        return picked()

    def status_in(self, context: Context) -> ExecutionStatus:
        """Sync for a complete execution; an awaitable only for a partial list item."""
        if self._partial:
            capabilities = context.runtime.adapters[self.source_name].capabilities
            if status_needs_steps(self._model, capabilities):
                return cast("ExecutionStatus", self._full(context, lambda e: e._model.status))
        return self._model.status

    def steps_in(self, context: Context) -> list[Step]:
        if self._partial:
            return cast("list[Step]", self._full(context, Execution.step_list))
        return self.step_list()

    @strawberry.field
    def approvals(self, info: Info[Context, None]) -> list[Approval]:
        if self._partial:
            return cast("list[Approval]", self._full(info.context, Execution.approval_list))
        return self.approval_list()

    @strawberry.field
    async def parent(self, info: Info[Context, None]) -> Execution | None:
        parent_id = self._model.parent_native_id
        if parent_id is None:
            return None
        parent = await info.context.loaders.execution(self.source_name, parent_id)
        return Execution.from_model(self.source_name, parent)

    @strawberry.field(
        description="What happened, in order: the upstream's own event log where it keeps one "
        "(Velt), else derived from its payload (step times, approvals and who decided); `first` "
        "1..100, paged with `after` (docs/live.md).",
        directives=[PAGED],
    )
    async def events(
        self, info: Info[Context, None], first: int = 50, after: str | None = None
    ) -> ExecutionEventConnection:
        found = self._model
        if self._partial:
            found = await info.context.loaders.execution(self.source_name, found.native_id)
        logged = await upstream_log(info, self.source_name, found)
        return execution_events(info, found, first, after, logged)

    @strawberry.field(description="Sub-executions (nesting-style sources); empty elsewhere.")
    async def children(self, info: Info[Context, None]) -> list[Execution]:
        loaders = info.context.loaders
        found = self._model
        if self._partial:
            found = await loaders.execution(self.source_name, found.native_id)
        futures = [loaders.execution(self.source_name, c) for c in found.child_native_ids]
        return [Execution.from_model(self.source_name, e) for e in [await f for f in futures]]

    @strawberry.field(description="The upstream payload, unchanged.")
    def raw(self) -> JSON:
        """Last in the type: what the unified fields above do not carry, rarely selected."""
        return JSON(self._model.raw)


_STEPS = Computed(Execution.step_list, sync=True)
"""``Execution.steps`` of a complete execution: built when asked."""


def _partial_status(context: Context) -> Callable[[Execution], ExecutionStatus]:
    """``Execution.status`` of a list item: its own, or the full execution's where steps refine it."""
    return lambda execution: execution.status_in(context)


def _partial_steps(context: Context) -> Callable[[Execution], list[Step]]:
    """``Execution.steps`` of a list item: the full execution's, loaded when asked."""
    return lambda execution: execution.steps_in(context)
