"""The gateway's errors as GraphQL errors: the one place a domain error becomes one (design §3).

The core raises ``GatewayError`` (gateway/core/errors.py, no GraphQL in it) and lets the adapters'
``UpstreamError`` pass; graphql-core wraps whatever a resolver raises, and ``classify`` stamps
every error of a result with its code (and source, HTTP status, retry hint), masking anything
unexpected as INTERNAL with the request id. ``graphql_error`` is the same mapping for an error
answered before execution (a gate's refusal).
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from adapters.errors import ExecutionNotFound, UpstreamError
from gateway.core.errors import GatewayError

__all__ = ["classify", "graphql_error", "upstream_extensions"]

log = logging.getLogger("gateway.errors")


def graphql_error(error: GatewayError | GraphQLError) -> GraphQLError:
    """``error`` as the GraphQL error a client reads: its message and extensions, unchanged."""
    if isinstance(error, GraphQLError):
        return error
    return GraphQLError(error.message, extensions=dict(error.extensions))


def upstream_extensions(error: UpstreamError) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": error.code}
    if error.source is not None:
        extensions["source"] = error.source
    if error.http_status is not None:
        extensions["httpStatus"] = error.http_status
    if error.upstream_code is not None:
        extensions["upstreamCode"] = error.upstream_code
    if error.retry_after is not None:
        extensions["retryAfter"] = round(error.retry_after, 3)
    return extensions


def classify(errors: list[GraphQLError], request_id: str | None, *, scoped: bool = False) -> None:
    """Give every error a code; mask unexpected ones (the log keeps the detail).

    ``scoped``: the caller has a scope (gateway/core/scope.py), so an id out of it must read as
    one that does not exist: every ``NOT_FOUND`` is told the same way, without the upstream's
    status and word (an out-of-scope id never reached the upstream).
    """
    for error in errors:
        original = error.original_error
        if scoped and isinstance(original, ExecutionNotFound):
            original = ExecutionNotFound(source=original.source, native_id=original.native_id)
        if isinstance(original, UpstreamError):
            error.message = original.message
            error.extensions = {**(error.extensions or {}), **upstream_extensions(original)}
        elif isinstance(original, GatewayError):
            error.message = original.message
            error.extensions = {**original.extensions, **(error.extensions or {})}
        elif isinstance(original, GraphQLError) and original.extensions:
            error.extensions = {**original.extensions, **(error.extensions or {})}
        elif original is not None and not isinstance(original, GraphQLError):
            log.error(
                "unexpected error in resolver",
                exc_info=original,
                extra={"request_id": request_id, "path": error.path},
            )
            error.message = "Internal error; quote the request id to the operator."
            error.extensions = {"code": "INTERNAL", "requestId": request_id}
        if not error.extensions or "code" not in error.extensions:
            # The document itself is at fault: a syntax error, or variables that do not fit.
            code = (
                "GRAPHQL_PARSE_FAILED"
                if isinstance(error, GraphQLSyntaxError)
                else "BAD_USER_INPUT"
            )
            error.extensions = {**(error.extensions or {}), "code": code}
