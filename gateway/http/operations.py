"""What HTTP cannot carry, judged before the gate: a subscription asked for one plain answer.

Every rule about who may run what is the gate's (gateway/gate), the same on every transport.
What is left here is framing: a subscription sent without a streaming ``Accept`` (SSE or
multipart) has no way to be answered over plain HTTP, where strawberry answered it with an
INTERNAL error.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from gateway.http.guards import GET_PARSE_MAX_TOKENS

if TYPE_CHECKING:
    from strawberry.http import GraphQLRequestData

__all__ = ["answers_as_json", "chosen_operation_type", "unstreamed_subscription"]

_JSON_TYPES = ("application/json", "application/graphql-response+json")

_OPERATION_CACHE = 256


def chosen_operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The type of the operation the request runs; None when the document does not parse or
    names none (the gate answers those)."""
    operations = _operations(query)
    if operation_name is None:
        return operations[0][1] if len(operations) == 1 else None
    return next((kind for name, kind in operations if name == operation_name), None)


@functools.lru_cache(maxsize=_OPERATION_CACHE)
def _operations(query: str) -> tuple[tuple[str | None, OperationType], ...]:
    """Each operation's name and type (parsed once per distinct document, then cached)."""
    try:
        document = parse(query, max_tokens=GET_PARSE_MAX_TOKENS, no_location=True)
    except GraphQLError:
        return ()
    return tuple(
        (d.name.value if d.name else None, d.operation)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def answers_as_json(request_data: GraphQLRequestData, accept: str | None) -> bool:
    """Whether a query or mutation sent with a streaming ``Accept`` is answered as one JSON
    document: when the client accepts JSON too. urql's default ``Accept`` lists
    ``text/event-stream`` after the JSON types, and strawberry answered its queries as an event
    stream it could not read; a client that accepts only a stream still gets one."""
    query = request_data.query
    if not accept or not isinstance(query, str):
        return False
    if not any(media in accept for media in _JSON_TYPES):
        return False
    return (
        chosen_operation_type(query, request_data.operation_name) is not OperationType.SUBSCRIPTION
    )


def unstreamed_subscription(query: str, operation_name: str | None) -> HTTPException | None:
    """A 400 naming the ways to subscribe, for a subscription sent for one plain answer."""
    if "subscription" not in query:
        return None
    if chosen_operation_type(query, operation_name) is not OperationType.SUBSCRIPTION:
        return None
    return HTTPException(
        400,
        "A subscription answers as a stream: send it with 'Accept: text/event-stream' "
        "(GraphQL over SSE) or 'multipart/mixed', or over the WebSocket (graphql-transport-ws).",
    )
