"""Where the schema asks the gate (gateway/gate): before strawberry runs any operation.

``GatewaySchema.execute`` and ``.stream`` are what every transport calls — strawberry's HTTP view
for POST, GET, SSE and multipart, its graphql-transport-ws handler for WebSocket messages — so
the gate asked here is asked for every operation, and no transport can skip it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import orjson
from graphql import OperationType
from strawberry.types.execution import PreExecutionError

from gateway.core.scope import fingerprint
from gateway.gate import Gate, OperationRequest, Refused, Sources, client_key
from gateway.ops.observe import record_refusal
from gateway.schema.errors import graphql_error
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    from collections.abc import Hashable

    import strawberry

    from gateway.core.caller import Caller

__all__ = ["Admission", "RefusedResult", "RefusedStream", "admission", "coalescing_key"]


@dataclasses.dataclass
class RefusedResult(PreExecutionError):
    """The answer to an operation the gate refused: its errors, and the refusal itself (whose
    ``status`` and ``headers`` an HTTP transport answers with)."""

    refused: Refused | None = None

    @classmethod
    def of(cls, refused: Refused) -> RefusedResult:
        return cls(data=None, errors=[graphql_error(e) for e in refused.errors], refused=refused)


@dataclasses.dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer: a refusal, or the operation's type (None without a gate), and the
    gate whose coalescer an identical query may share."""

    refused: Refused | None = None
    operation_type: OperationType | None = None
    gate: Gate | None = None


async def admission(
    schema: strawberry.Schema,
    query: object,
    variables: dict[str, Any] | None,
    context: object,
    operation_name: str | None,
) -> Admission:
    """Whether this operation may run, asked of the context's gate.

    A context without a gate is a schema used directly (tests of its execution, the schema
    export): no transport builds one, since ``Context.gate`` is required.
    """
    gate = getattr(context, "gate", None)
    if not isinstance(gate, Gate):
        return Admission()
    caller = context.caller  # type: ignore[attr-defined]
    scope = getattr(context.request, "scope", {})  # type: ignore[attr-defined]
    request = OperationRequest(
        caller=caller,
        client=client_key(caller, scope.get("client")),
        query=query,
        operation_name=operation_name,
        variables={} if variables is None else variables,
    )
    try:
        operation_type = await gate.admit(request, graphql_schema(schema), Sources.of(context))
    except Refused as refused:
        record_refusal(scope, len(refused.errors))
        if refused.action is not None:
            # A state-changing attempt is audited even when the gate stops it (docs/gate.md).
            runtime = getattr(context, "runtime", None)
            audit = getattr(runtime, "audit", None)
            if audit is not None:
                audit.record(
                    event="refused",
                    caller=caller.name,
                    action=refused.action,
                    outcome="forbidden",
                    code=refused.code,
                )
        return Admission(refused=refused)
    # Scope is applied where executions are read: the request's loaders. The gate, which every
    # transport passes, makes sure they hold this caller's scope, so no transport can skip it.
    loaders = getattr(context, "loaders", None)
    if loaders is not None and loaders.scope is not caller.scope:
        context.loaders = loaders.scoped(caller.scope, context.partitions())  # type: ignore[attr-defined]
    return Admission(operation_type=operation_type, gate=gate)


def coalescing_key(
    query: str, variables: dict[str, Any] | None, operation_name: str | None, caller: Caller
) -> Hashable | None:
    """What makes two queries one answer: the document, its variables and operation, and the
    caller's roles, scope and reviewer (a shared answer never crosses any of them). None when
    the variables cannot be keyed (they are then run alone)."""
    try:
        shape = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return (
        query,
        shape,
        operation_name,
        caller.roles,
        fingerprint(caller.scope),
        caller.reviewer_id,
    )


class RefusedStream:
    """A stream that answers one ``PreExecutionError`` with the gate's refusal, then ends.

    The WebSocket handler sends a ``PreExecutionError`` as the operation's ``error`` message; the HTTP view sees the
    type and answers SSE and multipart requests with the refusal's status instead of a stream.
    """

    def __init__(self, refused: Refused) -> None:
        self.refused = refused
        self._sent = False

    def __aiter__(self) -> RefusedStream:
        return self

    async def __anext__(self) -> RefusedResult:
        if self._sent:
            raise StopAsyncIteration
        self._sent = True
        return RefusedResult.of(self.refused)

    async def aclose(self) -> None:
        self._sent = True
