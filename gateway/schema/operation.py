"""The schema's one extension: everything the gateway does around an admitted operation.

The gate (gateway/gate) has already checked the operation, parsed and validated its document;
this extension runs the parts that belong to its execution, in one set of hooks (strawberry runs
every extension's hooks through its own machinery, about 15 µs per extension per request):

- ``gateway.ops.observe.OperationRecording``: the request record's operation name, errors, execution;
- the gate's parse and validation caches, so an admitted document is not parsed or validated
  again (when the speed work is on; off, strawberry parses and validates as it does);
- the introspection answers (``gateway.schema.introspection``);
- the operation's upstream call budget (``adapters.engine.CallBudget``), queries only;
- ``gateway.schema.extra_errors``: resolvers' non-fatal errors, after execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from adapters.engine import CallBudget, call_budget
from gateway.gate import Gate
from gateway.ops.observe import OperationRecording
from gateway.schema.extra_errors import merge_extra_errors
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gateway.schema.introspection import IntrospectionAnswers

__all__ = ["GatewayOperation"]


class GatewayOperation(SchemaExtension):
    def __init__(
        self, max_upstream_calls: int, introspection: IntrospectionAnswers, *, cached: bool
    ) -> None:
        """``cached``: parse and validate through the gate's caches (the speed work on)."""
        super().__init__()
        self._max_upstream_calls = max_upstream_calls
        self._introspection = introspection
        self._cached = cached
        self._recording: OperationRecording | None = None

    def _gate(self) -> Gate | None:
        gate = getattr(self.execution_context.context, "gate", None)
        return gate if self._cached and isinstance(gate, Gate) else None

    def on_operation(self) -> Iterator[None]:
        recording = self._recording = OperationRecording(self.execution_context)
        try:
            yield
        except BaseException:
            recording.failed()
            raise
        finally:
            recording.ended()

    def on_parse(self) -> Iterator[None]:
        """The document the gate parsed (the same cache, the same options)."""
        context = self.execution_context
        gate = self._gate()
        if gate is not None and context.graphql_document is None and context.query:
            context.graphql_document = gate.documents.parse_again(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        """The gate's validation of the same text: a cache hit, so strawberry validates nothing."""
        context = self.execution_context
        gate = self._gate()
        document = context.graphql_document
        if gate is not None and document is not None and context.query is not None:
            context.pre_execution_errors = gate.documents.validation_errors(
                graphql_schema(context.schema), context.query, document
            )
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if self._recording is not None:
            self._recording.executing()
        self._introspection.answer(context)
        budget = None
        if context.result is None and context.operation_type is OperationType.QUERY:
            # Mutations are left unbounded here: a decision is never cut between its write and
            # the read that confirms it. The gate's estimate still counts them.
            budget = call_budget.set(CallBudget(self._max_upstream_calls))
        try:
            yield
        finally:
            if budget is not None:
                call_budget.reset(budget)
        self._introspection.keep(context)
        merge_extra_errors(context)
