"""GraphQL errors with the design's stable ``extensions.code`` (design §3).

Resolvers raise ``GatewayError`` for what the gateway itself refuses, and let ``UpstreamError``
from the adapters pass; ``classify`` stamps every error of a result with its code (and source,
HTTP status, retry hint) and masks anything unexpected as INTERNAL with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from adapters.errors import ExecutionNotFound, UpstreamError

__all__ = ["CODES", "GatewayError", "bad_user_input", "classify", "upstream_extensions"]

log = logging.getLogger("gateway.errors")

CODES = (
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "UNSUPPORTED",
    "CONFLICT",
    "UPSTREAM_AUTH",
    "UPSTREAM_RATE_LIMITED",
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_BAD_RESPONSE",
    "INTERNAL",
    # Added to the design's list on purpose: the caller is over this gateway's own rate limit
    # (HTTP 429, gateway/rate_limit.py), not an upstream; see docs/errors.md.
    "RATE_LIMITED",
    # A subscriber that fell too far behind was dropped (gateway/live, docs/live.md).
    "SLOW_CONSUMER",
    # The gateway is stopping: a subscription ends, to be resubscribed elsewhere (docs/live.md).
    "SHUTTING_DOWN",
    # A subscription resumed after a position the change log no longer holds: refetch, then
    # subscribe again (gateway/live/changelog.py, docs/live.md).
    "RESUME_TOO_OLD",
    # The document does not parse, or does not validate against the schema: the codes Apollo
    # clients know (the gate, gateway/gate, refuses both before anything runs).
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
)


class GatewayError(GraphQLError):
    """An error the gateway raises itself, with its code (and source) already attached."""

    def __init__(self, message: str, code: str, *, source: str | None = None, **extra: Any) -> None:
        extensions: dict[str, Any] = {"code": code}
        if source is not None:
            extensions["source"] = source
        extensions.update(extra)
        super().__init__(message, extensions=extensions)


def bad_user_input(message: str) -> GatewayError:
    return GatewayError(message, "BAD_USER_INPUT")


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
