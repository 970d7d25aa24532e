"""The schema's one extension: everything the gateway does around an operation, in one set of hooks.

strawberry runs every extension's hooks through its own machinery (a hook lookup, a context
manager and an exit stack per extension and phase), about 15 µs per extension per request
whatever the extension does; the five small extensions this replaces were about 70 µs of a
0.7 ms cached request. It calls the parts in the order those five ran:

- ``gateway.ops.observe.OperationRecording``: the request record's operation name, errors, execution;
- ``gateway.schema.limits.OperationLimits``: document size, token bound, validation rules, cost;
- the parse and validation caches (``speed.DocumentCaches``), when the speed work is on;
- the introspection answers (``gateway.schema.introspection``);
- the operation's upstream call budget (``adapters.engine.CallBudget``), queries only;
- ``gateway.schema.extra_errors``: resolvers' non-fatal errors, after execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import GraphQLSyntaxError, parse
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from adapters.engine import CallBudget, call_budget
from gateway.ops.observe import OperationRecording
from gateway.schema.extra_errors import merge_extra_errors
from gateway.schema.limits import Sources
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gateway.schema.introspection import IntrospectionAnswers
    from gateway.schema.limits import OperationLimits
    from gateway.schema.speed import DocumentCaches

__all__ = ["GatewayOperation"]


class GatewayOperation(SchemaExtension):
    def __init__(
        self,
        limits: OperationLimits,
        caches: DocumentCaches | None,
        introspection: IntrospectionAnswers,
    ) -> None:
        """``caches``: None leaves parsing and validation to strawberry (the speed work off)."""
        super().__init__()
        self._limits = limits
        self._caches = caches
        self._introspection = introspection
        self._recording: OperationRecording | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        recording = self._recording = OperationRecording(context)
        try:
            self._limits.admit(context)
            try:
                yield
            except GraphQLSyntaxError as syntax_error:
                reworded = self._limits.reword_syntax_error(syntax_error, context.query)
                if reworded is syntax_error:
                    raise
                raise reworded from None
            self._limits.reword_parse_errors(context)
        except BaseException:
            recording.failed()
            raise
        finally:
            recording.ended()

    def on_parse(self) -> Iterator[None]:
        """Parse here, cached or not: a syntax error raised from this hook reaches
        ``on_operation`` (strawberry's own parse would record it where the wording of the token
        bound cannot be changed), so both modes refuse alike."""
        context = self.execution_context
        if context.graphql_document is None and context.query:
            parse_text = parse if self._caches is None else self._caches.parse
            context.graphql_document = parse_text(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            self._caches is not None
            and document is not None
            and context.query is not None
            and context.validation_rules
        ):
            context.pre_execution_errors = self._caches.validate(
                context.query, document, graphql_schema(context.schema), context.validation_rules
            )
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if self._recording is not None:
            self._recording.executing()
        self._limits.check_cost(
            context, graphql_schema(context.schema), Sources.of(context.context)
        )
        self._introspection.answer(context)
        budget = None
        if context.result is None and context.operation_type is OperationType.QUERY:
            # Mutations are left unbounded here: a decision is never cut between its write and
            # the read that confirms it. Their static estimate still counts them.
            budget = call_budget.set(CallBudget(self._limits.limits.max_upstream_calls))
        try:
            yield
        finally:
            if budget is not None:
                call_budget.reset(budget)
        self._introspection.keep(context)
        merge_extra_errors(context)
