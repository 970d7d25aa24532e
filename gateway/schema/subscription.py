"""The root Subscription type: thin resolvers over the live hub (gateway/live/hub.py).

Served over WebSocket (graphql-transport-ws) and over HTTP streams (GraphQL over SSE, and
multipart subscriptions for Apollo Client); docs/live.md. Each event releases the context's
loaders first, so a long subscription never serves an execution its connection loaded earlier.

``executionChanges``, ``approvalRequested`` and ``approvalResolved`` are resumable: each event's position travels in
the result's ``extensions.position`` (``StreamPositions``; over SSE also as the event's ``id``),
and ``after:`` a position (or an SSE ``Last-Event-ID`` header) replays what followed it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Annotated, TypeVar

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult, Info, StreamExecutionResult

from adapters.base import Capability
from adapters.errors import ExecutionNotFound
from adapters.model import Approval as ApprovalModel
from adapters.model import Execution as ExecutionModel
from adapters.resilience import request_deadline
from gateway.core.errors import GatewayError, bad_user_input
from gateway.live.bus import SlowConsumer
from gateway.live.changelog import parse_position
from gateway.live.hub import LiveHub, slow_consumer_error
from gateway.schema.context import Context
from gateway.schema.feed import ExecutionFilter
from gateway.schema.resolve import execution_ref
from gateway.schema.types import Approval, Execution

__all__ = ["SLOW_CONSUMER_CLOSE_CODE", "StreamPositions", "Subscription"]

SLOW_CONSUMER_CLOSE_CODE = 4503
"""A WebSocket whose reader fell behind is closed with this code (graphql-ws clients reconnect on
it, as on 1013 "try again later")."""
_T = TypeVar("_T")
_AFTER = (
    "Resume: first the changes logged after this position (an earlier event's "
    "`extensions.position`), in order, then live ones; RESUME_TOO_OLD if the log no longer "
    "holds it. Over SSE, a `Last-Event-ID` header does the same."
)


class _Box:
    __slots__ = ("position",)

    def __init__(self) -> None:
        self.position: str | None = None


_POSITION: ContextVar[_Box | None] = ContextVar("stream_position", default=None)


class StreamPositions(SchemaExtension):
    """Puts each streamed event's position in its result's ``extensions.position``: the
    resolver leaves it in this operation's box (a context variable set before it runs)."""

    def on_execute(self) -> Iterator[None]:
        self._box = _Box()
        _POSITION.set(self._box)
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        box: _Box | None = getattr(self, "_box", None)
        if box is not None and box.position is not None and isinstance(result, ExecutionResult):
            result.extensions = {**(result.extensions or {}), "position": box.position}
            box.position = None
        yield


def _mark(position: str | None) -> None:
    box = _POSITION.get()
    if box is not None:
        box.position = position


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
        visible = _visible(info)
        changes = hub.execution_changes(client, ref.source, ref.native_id, _dropper(info))
        async for execution in _events(info, changes):
            if not visible(ref.source, execution):  # out of scope: as if it did not exist
                raise ExecutionNotFound(source=ref.source, native_id=ref.native_id)
            yield Execution.from_model(ref.source, execution)

    @strawberry.subscription(
        description="Executions as they change, across sources, filtered like executionFeed "
        "(dashboards). Starts with the next change; query executionFeed for the current list."
    )
    async def execution_changes(
        self,
        info: Info[Context, None],
        filter: ExecutionFilter | None = None,
        after: Annotated[str | None, strawberry.argument(description=_AFTER)] = None,
    ) -> AsyncGenerator[Execution, None]:
        hub, client = _hub(info)
        resume = _resume(info, after)
        given = filter or ExecutionFilter()
        sources = _sources(info, given.sources)
        if given.statuses is not None and not given.statuses:
            raise bad_user_input("filter.statuses: give at least one status, or leave it out")
        statuses = frozenset(given.statuses) if given.statuses is not None else None
        changes = hub.changes(
            client, sources, statuses, given.workflow_id, _dropper(info), after=resume
        )
        visible = _visible(info)
        async for position, source, execution in _events(info, changes):
            if not visible(source, execution):
                continue
            _mark(position)
            yield Execution.from_model(source, execution)

    @strawberry.subscription(
        description="Each approval that becomes pending from now on, once (the approvals "
        "inbox), on `sources` or every source with approvals. Query pendingApprovals for those "
        "already waiting."
    )
    async def approval_requested(
        self,
        info: Info[Context, None],
        sources: list[str] | None = None,
        after: Annotated[str | None, strawberry.argument(description=_AFTER)] = None,
    ) -> AsyncGenerator[Approval, None]:
        hub, client = _hub(info)
        resume = _resume(info, after)
        wanted = _approval_sources(info, sources)
        found = hub.approvals_requested(client, wanted, _dropper(info), after=resume)
        async for approval in _approvals(info, found):
            yield approval

    @strawberry.subscription(
        description="Each approval that stops waiting from now on (decided here, upstream or "
        "on another replica, or its run ended), on `sources` or every source with approvals: "
        "what an open inbox drops. Fed by webhooks, polls and the gateway's own decisions."
    )
    async def approval_resolved(
        self,
        info: Info[Context, None],
        sources: list[str] | None = None,
        after: Annotated[str | None, strawberry.argument(description=_AFTER)] = None,
    ) -> AsyncGenerator[Approval, None]:
        hub, client = _hub(info)
        resume = _resume(info, after)
        found = hub.approvals_resolved(
            client, _approval_sources(info, sources), _dropper(info), after=resume
        )
        async for approval in _approvals(info, found):
            yield approval


async def _approvals(
    info: Info[Context, None],
    found: AsyncIterator[tuple[str | None, str, ExecutionModel, ApprovalModel]],
) -> AsyncIterator[Approval]:
    """The hub's approvals as GraphQL objects, each position marked, those out of the caller's
    scope left out."""
    visible = _visible(info)
    async for position, source, execution, approval in _events(info, found):
        if not visible(source, execution):
            continue
        _mark(position)
        yield Approval.from_model(Execution.from_model(source, execution), approval)


def _approval_sources(info: Info[Context, None], given: list[str] | None) -> frozenset[str]:
    """The named (or visible) sources that have approvals."""
    runtime = info.context.runtime
    return frozenset(
        name
        for name in _sources(info, given)
        if Capability.APPROVE in runtime.adapters[name].capabilities
    )


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


def _resume(info: Info[Context, None], after: str | None) -> str | None:
    """The position to resume after: ``after``, else an SSE reconnect's ``Last-Event-ID``."""
    if after is None:
        request = info.context.request
        if isinstance(request, Request):
            after = request.headers.get("last-event-id") or None
    if after is not None and parse_position(after) is None:
        raise bad_user_input(
            "after: not a position; give an event's `extensions.position` (or SSE id) as sent"
        )
    return after


def _visible(info: Info[Context, None]) -> Callable[[str, ExecutionModel], bool]:
    """Whether the caller's scope shows an execution (every one without a scope): a change out
    of scope is never sent, whether a webhook, a poll or a decision brought it."""
    scope = info.context.caller.scope
    if scope is None:
        return lambda source, execution: True
    partitions = info.context.partitions()
    return lambda source, execution: scope.allows(source, execution, partitions[source])


def _sources(info: Info[Context, None], given: list[str] | None) -> frozenset[str]:
    known = info.context.visible_sources()
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
