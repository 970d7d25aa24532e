"""The errors the gateway raises itself, each with the design's stable ``code`` (design §3).

Plain exceptions, with no GraphQL in them: the core raises them, the schema maps them to GraphQL
errors (gateway/schema/errors.py: ``classify`` gives every error of a result its code, and masks
anything unexpected as INTERNAL). ``extensions`` is what the client reads beside the message.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CODES", "GatewayError", "bad_user_input", "limit_error"]

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
    # (HTTP 429, gateway/gate/rate.py), not an upstream; see docs/errors.md.
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


class GatewayError(Exception):
    """An error the gateway raises itself: its message, its code, and the extensions (code,
    source, limit …) a client reads beside the message."""

    def __init__(self, message: str, code: str, *, source: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extensions: dict[str, Any] = {"code": code}
        if source is not None:
            self.extensions["source"] = source
        self.extensions.update(extra)


def bad_user_input(message: str) -> GatewayError:
    return GatewayError(message, "BAD_USER_INPUT")


def limit_error(key: str, allowed: int, message: str) -> GatewayError:
    """The refusal for ``limits.<key>``: BAD_USER_INPUT naming the limit and its value."""
    return GatewayError(
        f"{message}; this gateway accepts at most {allowed} (limits.{key}).",
        "BAD_USER_INPUT",
        limit=key,
        allowed=allowed,
    )
