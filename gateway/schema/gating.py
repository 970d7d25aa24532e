"""Where the schema asks the gate (gateway/gate): before strawberry runs any operation.

``GatewaySchema.execute`` and ``.stream`` are what every transport calls — strawberry's HTTP view
for POST, GET, SSE and multipart, its graphql-transport-ws handler for WebSocket messages — so
the gate asked here is asked for every operation, and no transport can skip it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from strawberry.types.execution import PreExecutionError

from gateway.gate import Gate, OperationRequest, Refused, Sources, client_key
from gateway.ops.observe import record_refusal
from gateway.schema.speed import graphql_schema

if TYPE_CHECKING:
    import strawberry

__all__ = ["RefusedResult", "RefusedStream", "admission"]


@dataclasses.dataclass
class RefusedResult(PreExecutionError):
    """The answer to an operation the gate refused: its errors, and the refusal itself (whose
    ``status`` and ``headers`` an HTTP transport answers with)."""

    refused: Refused | None = None

    @classmethod
    def of(cls, refused: Refused) -> RefusedResult:
        return cls(data=None, errors=refused.errors, refused=refused)


async def admission(
    schema: strawberry.Schema,
    query: object,
    variables: dict[str, Any] | None,
    context: object,
    operation_name: str | None,
) -> Refused | None:
    """The gate's refusal of this operation, or None when it may run.

    A context without a gate is a schema used directly (tests of its execution, the schema
    export): no transport builds one, since ``Context.gate`` is required.
    """
    gate = getattr(context, "gate", None)
    if not isinstance(gate, Gate):
        return None
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
        await gate.admit(request, graphql_schema(schema), Sources.of(context))
    except Refused as refused:
        record_refusal(scope, len(refused.errors))
        return refused
    return None


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
