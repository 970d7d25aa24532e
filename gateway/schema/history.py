"""``Execution.events``: the execution's timeline in one type, paged (docs/live.md, History)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from adapters import model
from adapters.base import UpstreamEvent
from adapters.errors import UpstreamError
from gateway.core.errors import bad_user_input
from gateway.live.history import TimelineEvent, from_upstream_log, timeline
from gateway.schema.connections import PAGE_ITEMS, PageInfo, check_first, decode_cursor
from gateway.schema.context import Context
from gateway.schema.errors import upstream_extensions

__all__ = [
    "ExecutionEvent",
    "ExecutionEventConnection",
    "ExecutionEventEdge",
    "execution_events",
    "upstream_log",
]

CURSOR_KIND = "executionEvents"


@strawberry.type(description="Something that happened to an execution.")
class ExecutionEvent:
    kind: str = strawberry.field(
        description="EXECUTION_CREATED, EXECUTION_STARTED, STEP_STARTED, STEP_COMPLETED (or "
        "_FAILED, _CANCELLED, _TIMED_OUT, _SKIPPED), APPROVAL_REQUESTED, APPROVAL_APPROVED, "
        "APPROVAL_REJECTED, EXECUTION_<terminal status>."
    )
    at: datetime | None = strawberry.field(
        description="When, if the upstream's payload says (Rotavision's steps carry no times)."
    )
    step_native_id: str | None
    step_name: str | None
    actor: str | None = strawberry.field(description="Who decided, for approval decisions.")


@strawberry.type
class ExecutionEventEdge:
    cursor: str
    node: ExecutionEvent


@strawberry.type
class ExecutionEventConnection:
    edges: list[ExecutionEventEdge] = strawberry.field(directives=[PAGE_ITEMS])
    page_info: PageInfo


LOG_PAGE_SIZE = 500
LOG_MAX_PAGES = 10
"""An execution's upstream event log is read up to 5,000 events, then the timeline is cut there."""


async def upstream_log(
    info: Info[Context, None], source: str, execution: model.Execution
) -> list[TimelineEvent] | None:
    """The source's own event log where it keeps one (Velt), else None (derive from the payload).

    A log that cannot be read leaves the derived timeline in its place and a typed error beside
    the answer, naming the source."""
    adapter = info.context.runtime.adapters.get(source)
    read = getattr(adapter, "events_page", None)
    if read is None:
        return None
    events: list[UpstreamEvent] = []
    since = 0
    try:
        for _ in range(LOG_MAX_PAGES):
            page = await read(execution.native_id, since_seq=since, page_size=LOG_PAGE_SIZE)
            events += page.events
            if page.next_seq is None:
                break
            since = page.next_seq
    except UpstreamError as error:
        extensions = {**upstream_extensions(error), "source": source}
        info.context.extra_errors.append(
            GraphQLError(error.message, path=info.path.as_list(), extensions=extensions)
        )
        return None
    return from_upstream_log(execution, events)


def execution_events(
    info: Info[Context, None],
    execution: model.Execution,
    first: int,
    after: str | None,
    logged: list[TimelineEvent] | None = None,
) -> ExecutionEventConnection:
    check_first(first)
    kind = info.context.cursor_kind(CURSOR_KIND)
    state = decode_cursor(info.context, kind, after) or {"n": 0, "id": execution.native_id}
    start = state.get("n")
    if not isinstance(start, int) or state.get("id") != execution.native_id or start < 0:
        raise bad_user_input("after: the cursor belongs to another execution's events")
    events = logged if logged is not None else timeline(execution)
    cursors = info.context.runtime.cursors
    edges = [
        ExecutionEventEdge(
            cursor=cursors.encode(kind, {"n": index + 1, "id": execution.native_id}),
            node=ExecutionEvent(
                kind=event.kind,
                at=event.at,
                step_native_id=event.step_native_id,
                step_name=event.step_name,
                actor=event.actor,
            ),
        )
        for index, event in enumerate(events[start : start + first], start=start)
    ]
    return ExecutionEventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + first < len(events),
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
