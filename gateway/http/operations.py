"""What a request's document asks to run, judged before it runs.

strawberry runs the first operation of a document when ``operationName`` is missing, and knows
nothing of roles; these checks answer first, as strawberry's own HTTP errors (JSON with a code
once ``GraphQLResponseMiddleware`` has shaped them).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from gateway.http.auth import VIEWER
from gateway.http.guards import GET_PARSE_MAX_TOKENS

if TYPE_CHECKING:
    from gateway.core.caller import Caller

__all__ = ["chosen_operation_type", "names_no_operation", "refusal"]

_READS = (OperationType.QUERY, OperationType.SUBSCRIPTION)
_MAX_LITERAL_DIGITS = 4_300
_HUGE_NUMBER = re.compile(rf"\d{{{_MAX_LITERAL_DIGITS + 1}}}")
"""A run of digits Python's int() refuses: as a literal in a document it was an INTERNAL error."""
_OPERATION_KEYWORDS = ("query", "mutation", "subscription")
_OPERATION_CACHE = 256


def names_no_operation(query: str, operation_name: str | None) -> bool:
    """Whether a document of several operations came without ``operationName``.

    The spec makes that a request error; strawberry would run the first operation. Only a
    document with two operation keywords can hold two operations that validate (an anonymous
    one must be alone), so most documents are judged without parsing them a second time.
    """
    if operation_name is not None:
        return False
    if sum(query.count(keyword) for keyword in _OPERATION_KEYWORDS) < 2:
        return False
    return len(_operations(query)) > 1


def chosen_operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The type of the operation the request runs; None when the document does not parse or
    names none (strawberry answers those)."""
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
        return ()  # strawberry answers the syntax error
    return tuple(
        (d.name.value if d.name else None, d.operation)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def refusal(
    query: str, operation_name: str | None, caller: Caller, *, streamed: bool = False
) -> HTTPException | None:
    """Why this operation must not run, as strawberry's HTTP error, if it must not.

    A number literal of more than 4,300 digits is a 400 (graphql-core's coercion raised on it).
    A document of several operations without ``operationName`` is a 400 (strawberry would run
    the first). Reading needs the ``viewer`` role: a caller without it (an approver-only client)
    may send the decision mutations, whose answer is the decision, and nothing else (403). A
    subscription asked for one plain answer (not ``streamed``: no SSE or multipart ``Accept``)
    is a 400 naming the ways to subscribe (strawberry answered it with an INTERNAL error).
    """
    if _HUGE_NUMBER.search(query):
        return HTTPException(
            400, f"The document has a number of more than {_MAX_LITERAL_DIGITS} digits."
        )
    if names_no_operation(query, operation_name):
        return HTTPException(
            400, "The document has several operations: send 'operationName' to choose one."
        )
    operation_type = chosen_operation_type(query, operation_name)
    if VIEWER not in caller.roles and operation_type in _READS:
        return HTTPException(
            403, f"Client '{caller.name}' lacks the {VIEWER} role, which queries need."
        )
    if operation_type is OperationType.SUBSCRIPTION and not streamed:
        return HTTPException(
            400,
            "A subscription answers as a stream: send it with 'Accept: text/event-stream' "
            "(GraphQL over SSE) or 'multipart/mixed', or over the WebSocket (graphql-transport-ws).",
        )
    return None
