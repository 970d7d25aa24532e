"""The root Subscription type: thin resolvers over the live hub (gateway/live/hub.py).

Served over WebSocket (graphql-transport-ws) and over HTTP streams (GraphQL over SSE, and
multipart subscriptions for Apollo Client); docs/live.md. Each event releases the context's
loaders first, so a long subscription never serves an execution its connection loaded earlier.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TypeVar

import strawberry
from starlette.websockets import WebSocket
from strawberry.types import Info

from adapters.base import Capability
from adapters.resilience import request_deadline
from gateway.core.errors import GatewayError, bad_user_input
from gateway.live.bus import SlowConsumer
from gateway.live.hub import LiveHub, slow_consumer_error
from gateway.schema.context import Context
from gateway.schema.feed import ExecutionFilter
from gateway.schema.resolve import execution_ref
from gateway.schema.types import Approval, Execution

__all__ = ["SLOW_CONSUMER_CLOSE_CODE", "Subscription"]

SLOW_CONSUMER_CLOSE_CODE = 4503
"""A WebSocket whose reader fell behind is closed with this code (graphql-ws clients reconnect on
it, as on 1013 "try again later")."""
_T = TypeVar("_T")


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The execution's current state, then each change as the upstream reports "
        "it (webhooks, else polls); completes after a terminal status."
    )
    async def execution_changed(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> AsyncGenerator[Execution, None]:
        hub, client = _hub(info)
        ref = execution_ref(info, id)
        changes = hub.execution_changes(client, ref.source, ref.native_id, _dropper(info))
        async for execution in _events(info, changes):
            yield Execution.from_model(ref.source, execution)

    @strawberry.subscription(
        description="Executions as they change, across sources, filtered like executionFeed "
        "(dashboards). Starts with the next change; query executionFeed for the current list."
    )
    async def execution_changes(
        self, info: Info[Context, None], filter: ExecutionFilter | None = None
    ) -> AsyncGenerator[Execution, None]:
        hub, client = _hub(info)
        given = filter or ExecutionFilter()
        sources = _sources(info, given.sources)
        if given.statuses is not None and not given.statuses:
            raise bad_user_input("filter.statuses: give at least one status, or leave it out")
        statuses = frozenset(given.statuses) if given.statuses is not None else None
        changes = hub.changes(client, sources, statuses, given.workflow_id, _dropper(info))
        async for source, execution in _events(info, changes):
            yield Execution.from_model(source, execution)

    @strawberry.subscription(
        description="Each approval that becomes pending from now on, once (the approvals "
        "inbox), on `sources` or every source with approvals. Query pendingApprovals for those "
        "already waiting."
    )
    async def approval_requested(
        self, info: Info[Context, None], sources: list[str] | None = None
    ) -> AsyncGenerator[Approval, None]:
        hub, client = _hub(info)
        runtime = info.context.runtime
        wanted = frozenset(
            name
            for name in _sources(info, sources)
            if Capability.APPROVE in runtime.adapters[name].capabilities
        )
        found = hub.approvals_requested(client, wanted, _dropper(info))
        async for source, execution, approval in _events(info, found):
            yield Approval.from_model(Execution.from_model(source, execution), approval)


_CLOSING: set[asyncio.Task[None]] = set()


async def _close(websocket: WebSocket) -> None:
    """Close a slow consumer's socket. Not cancelled: its reader may be stalled, so the close
    frame may never be written, and the WebSocket library then aborts the connection after its
    own close timeout (cancelling the close left the socket open until the pings timed out)."""
    try:
        with contextlib.suppress(Exception):
            await websocket.close(SLOW_CONSUMER_CLOSE_CODE, "slow consumer")
    finally:
        task = asyncio.current_task()
        if task is not None:
            _CLOSING.discard(task)


def _hub(info: Info[Context, None]) -> tuple[LiveHub, str]:
    context = info.context
    if not context.caller.roles:
        raise GatewayError(
            "Authenticate first: an API key in the Authorization header or in the "
            "connection_init payload.",
            "UNAUTHENTICATED",
        )
    if context.live is None:
        raise GatewayError("This gateway serves no subscriptions.", "UNSUPPORTED")
    return context.live, context.caller.name


def _sources(info: Info[Context, None], given: list[str] | None) -> frozenset[str]:
    known = info.context.runtime.sources
    if given is None:
        return frozenset(known)
    if not given:
        raise bad_user_input("sources: give at least one source, or leave it out")
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise bad_user_input(f"sources: unknown source(s) {', '.join(unknown)}")
    return frozenset(given)


async def _events(info: Info[Context, None], source: AsyncIterator[_T]) -> AsyncIterator[_T]:
    """``source``'s items, each after the loaders are released and with a request deadline of
    its own (an HTTP stream's first deadline has long passed); a slow consumer's error."""
    seconds = info.context.runtime.config.server.request_deadline_s
    try:
        async with contextlib.aclosing(source):  # type: ignore[type-var]
            async for item in source:
                info.context.loaders.release()
                request_deadline.set(time.monotonic() + seconds)
                yield item
    except SlowConsumer as error:
        raise slow_consumer_error(error) from None


def _dropper(info: Info[Context, None]) -> Callable[[], None] | None:
    """What to do the moment a subscriber is dropped: close its WebSocket (with the reason)
    now, since its reader may be stuck writing to it. An HTTP stream ends with the error."""
    request = info.context.request
    if not isinstance(request, WebSocket):
        return None

    def drop() -> None:
        _CLOSING.add(asyncio.get_running_loop().create_task(_close(request)))

    return drop
