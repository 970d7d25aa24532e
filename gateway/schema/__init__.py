"""The strawberry schema: types over the model, the root Query, error classification."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

import strawberry
from graphql import OperationType as DocumentOperation
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError

from gateway.config import LimitsConfig
from gateway.core.caller import Caller
from gateway.schema import speed
from gateway.schema.computed import resolve_attribute
from gateway.schema.errors import classify
from gateway.schema.gating import RefusedResult, RefusedStream, admission, coalescing_key
from gateway.schema.introspection import IntrospectionAnswers
from gateway.schema.mutation import Mutation
from gateway.schema.operation import GatewayOperation
from gateway.schema.query import Query
from gateway.schema.subscription import StreamPositions, Subscription
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

    from graphql import GraphQLError
    from strawberry.schema.schema import StreamResult
    from strawberry.types import ExecutionContext, ExecutionResult
    from strawberry.types.graphql import OperationType

__all__ = ["GatewaySchema", "build_schema", "schema"]


class GatewaySchema(strawberry.Schema):
    """A strawberry Schema whose errors all carry the design's ``extensions.code``.

    ``fast_paths`` (``[server] fast_paths``) installs the speed work (gateway/schema/speed/);
    off, execution is stock strawberry's.
    """

    def __init__(self, *args: Any, fast_paths: bool = True, **kwargs: Any) -> None:
        if fast_paths:
            kwargs.setdefault("execution_context_class", speed.FastExecutionContext)
        super().__init__(*args, **kwargs)
        self.fast_paths = fast_paths
        self.introspection_answers: IntrospectionAnswers | None = None
        if fast_paths:
            speed.install(self)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """strawberry's, once the gate (``context_value.gate``) has admitted the operation; a
        refusal is the answer, its error a ``Refused``'s (HTTP reads its status from there)."""
        admitted = await admission(self, query, variable_values, context_value, operation_name)
        if admitted.refused is not None:
            return RefusedResult.of(admitted.refused)

        def execute() -> Awaitable[ExecutionResult]:
            return super(GatewaySchema, self).execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )

        if admitted.gate is None or admitted.operation_type is not DocumentOperation.QUERY:
            return await execute()
        assert isinstance(query, str)
        caller = getattr(context_value, "caller", None)
        assert isinstance(caller, Caller)  # a context with a gate is a Context
        key = coalescing_key(query, variable_values, operation_name, caller)
        if key is None:
            return await execute()
        result: ExecutionResult = await admitted.gate.coalescer.run(key, execute)
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """strawberry's, once the gate has admitted the operation; a refusal is a stream of one
        ``PreExecutionError`` (graphql-transport-ws answers it with an ``error`` message), which
        HTTP transports recognise as a ``RefusedStream`` and answer with a status instead."""
        admitted = await admission(self, query, variable_values, context_value, operation_name)
        if admitted.refused is not None:
            return cast("StreamResult", RefusedStream(admitted.refused))
        return await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = None
        scoped = False
        if execution_context is not None and execution_context.context is not None:
            request_id = getattr(execution_context.context, "request_id", None)
            caller = getattr(execution_context.context, "caller", None)
            scoped = getattr(caller, "scope", None) is not None
        for error in errors:
            if isinstance(error.original_error, InvalidOperationTypeError):
                # A transport that carries one kind of operation (multipart: subscriptions).
                error.message = (
                    f"This transport does not carry {error.original_error.operation_type.value}"
                    " operations: send queries and mutations as application/json."
                )
                error.extensions = {"code": "BAD_USER_INPUT"}
                error.original_error = None
        classify(errors, request_id, scoped=scoped)


@functools.lru_cache(maxsize=8)
def build_schema(
    limits: LimitsConfig | None = None, *, fast_paths: bool = True, federation: bool = False
) -> GatewaySchema:
    """The schema for ``limits`` (its ``max_upstream_calls`` bounds a query as it runs; the
    gate, gateway/gate, applies the others); one per distinct config.

    Extensions never change the SDL, so ``schema`` (the defaults) is what export-schema prints.
    ``federation``: an Apollo Federation subgraph of it (gateway/schema/federation.py).
    """
    limits = limits or LimitsConfig()
    answers = IntrospectionAnswers()
    schema_class = GatewaySchema
    if federation:
        from gateway.schema.federation import FederatedGatewaySchema as schema_class
    built = schema_class(
        fast_paths=fast_paths,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Execution, Step, Approval],
        # Plain fields may hold a Computed value (gateway/schema/computed.py).
        config=StrawberryConfig(auto_camel_case=True, default_resolver=resolve_attribute),
        extensions=[
            functools.partial(
                GatewayOperation, limits.max_upstream_calls, answers, cached=fast_paths
            ),
            StreamPositions,  # resumable subscriptions' positions (gateway/schema/subscription.py)
        ],
    )
    built.introspection_answers = answers
    return built


schema = build_schema()
