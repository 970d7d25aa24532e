"""The most common request, read without strawberry's general request parsing.

Most requests are a ``POST`` of one JSON object, ``Content-Type: application/json``, asking for a
plain JSON answer. For each, strawberry's view parses the content type with ``email.message``,
scans the headers for a streaming transport, checks for its IDE and wraps the request in adapters
before it reads the body: about a fifth of a single-execution request's CPU. Here the scope is
judged in one pass over its raw headers, and the body is read as strawberry would read it.

Only what strawberry would read exactly so qualifies; for anything else (another method or
content type, a query string, a streaming ``Accept``, a header given twice, a body that is not an
object of the usual types) these answer "no" and the view's own path runs, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.http import GraphQLRequestData

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["is_plain_json_post", "plain_request_data"]

_CONTENT_TYPES = frozenset(
    b"application/json" + params
    for params in (
        b"",
        b"; charset=utf-8",
        b";charset=utf-8",
        b"; charset=UTF-8",
        b";charset=UTF-8",
    )
)
"""Exactly these: strawberry's view reads ``Application/JSON`` as another media type (a 400)."""
_PLAIN_ACCEPTS = frozenset(("*/*", "application/json", "application/graphql-response+json"))
"""Media types that ask for one JSON answer (never a stream): strawberry's view streams only for
``text/event-stream`` and ``multipart/mixed``."""


def is_plain_json_post(scope: Scope) -> bool:
    """Whether the request is a ``POST`` of JSON, without a query string, asking for plain JSON."""
    if scope["method"] != "POST" or scope["query_string"]:
        return False
    content_type: bytes | None = None
    accept: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is not None:
                return False
            content_type = value
        elif name == b"accept":
            if accept is not None:
                return False
            accept = value
    if content_type not in _CONTENT_TYPES:
        return False
    return accept is None or _asks_for_plain_json(accept)


def _asks_for_plain_json(accept: bytes) -> bool:
    """Each entry of ``accept`` names one of ``_PLAIN_ACCEPTS`` (with any parameters, ``q``)."""
    try:
        text = accept.decode("ascii")
    except UnicodeDecodeError:
        return False
    return all(part.split(";", 1)[0].strip().lower() in _PLAIN_ACCEPTS for part in text.split(","))


def plain_request_data(data: object) -> GraphQLRequestData | None:
    """The request a JSON body of one operation carries, as strawberry's view reads it; None
    for a body its view would refuse or read otherwise (a batch, a ``query`` that is not a
    string, ``variables`` or ``extensions`` that are not objects)."""
    if not isinstance(data, dict):
        return None
    query = data.get("query")
    variables = data.get("variables")
    extensions = data.get("extensions")
    if not (
        (query is None or isinstance(query, str))
        and (variables is None or isinstance(variables, dict))
        and (extensions is None or isinstance(extensions, dict))
    ):
        return None
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=data.get("operationName"),
        extensions=extensions,
        protocol="http",
    )
