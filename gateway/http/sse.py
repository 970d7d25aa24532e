"""GraphQL over SSE with positions and GET: what ``EventSource`` needs (docs/live.md).

strawberry's SSE transport, with two differences. Each ``next`` event whose result carries an
``extensions.position`` (resumable subscriptions, gateway/schema/subscription.py) is sent with
that position as its SSE ``id``, so a browser's ``EventSource`` reconnects with
``Last-Event-ID`` and misses nothing. And a subscription may come over GET (the protocol's
distinct-connections mode allows it; ``EventSource`` only does GET): RequestGuardMiddleware
still answers a GET mutation 405, and every operation still passes the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.http.streaming import SSETransport
from strawberry.types.graphql import OperationType

from gateway.live.changelog import parse_position

if TYPE_CHECKING:
    from collections.abc import Iterable

    from strawberry.http import GraphQLHTTPResponse
    from strawberry.http.streaming import JSONEncoder

__all__ = ["ResumableSSETransport"]


class ResumableSSETransport(SSETransport):
    def allowed_operation_types(
        self, allowed_operation_types: set[OperationType]
    ) -> Iterable[OperationType]:
        return {*allowed_operation_types, OperationType.SUBSCRIPTION}

    def encode_next(self, response: GraphQLHTTPResponse, encode_json: JSONEncoder) -> str:
        event = super().encode_next(response, encode_json)
        position = (response.get("extensions") or {}).get("position")
        if isinstance(position, str) and parse_position(position) is not None:
            return f"id: {position}\r\n{event}"
        return event
