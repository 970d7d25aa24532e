"""``Query.executionFeed``: one list of executions across every source that can list, newest first.

The merge is ``gateway/core/merge.py`` and the filter and cursor state ``gateway/core/feed.py``;
this module reads the arguments, binds the merge to the upstreams and the request's loaders (so
the items a filter must load are loaded in batches), and shapes the Relay connection
(docs/feed.md).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from adapters.model import ExecutionStatus
from gateway.core.feed import CURSOR_KIND, FeedSpec
from gateway.core.merge import Merge, Outcome, Position
from gateway.schema.connections import (
    PAGE_ITEMS,
    PageInfo,
    SourceFailure,
    check_first,
    decode_cursor,
    report_failures,
)
from gateway.schema.context import Context
from gateway.schema.types import Execution

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapters.base import ExecutionPage
    from adapters.model import Execution as ExecutionModel

__all__ = [
    "ExecutionConnection",
    "ExecutionEdge",
    "ExecutionFilter",
    "SkippedSource",
    "execution_feed",
]

MAX_UPSTREAM_PAGES = 10
"""Upstream list pages one call may fetch per source before answering with what it has."""
MAX_FILTER_LOADS = 250
"""Executions one call may load to decide a status filter before answering with what it has."""


@strawberry.input(description="What the feed includes. Every field is optional; all must match.")
class ExecutionFilter:
    sources: list[str] | None = strawberry.field(
        default=None, description="Only these sources (by name); at least one when given."
    )
    statuses: list[ExecutionStatus] | None = strawberry.field(
        default=None, description="Only executions in one of these statuses; at least one."
    )
    workflow_id: str | None = strawberry.field(
        default=None, description="Only executions of this workflow (`Execution.workflow.id`)."
    )


@strawberry.type
class ExecutionEdge:
    cursor: str
    node: Execution | None = strawberry.field(
        description="Null only when a field that needs the full execution (steps, approvals, "
        "the status of a listed running execution) could not be loaded; the error says why."
    )


@strawberry.type(description="A source the feed leaves out: it cannot list its executions.")
class SkippedSource:
    source: str
    reason: str


@strawberry.type
class ExecutionConnection:
    edges: list[ExecutionEdge] = strawberry.field(directives=[PAGE_ITEMS])
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="How many executions the whole feed holds: only when every included source "
        "reported a total on this call and no status or workflow filter applies; else null."
    )
    skipped_sources: list[SkippedSource] = strawberry.field(
        description="Included sources that cannot list executions (reach those by id)."
    )
    failed_sources: list[SourceFailure] = strawberry.field(
        description="Sources that failed on this page: their items are missing here and come "
        "on later pages, from where they stopped, once the source answers again."
    )


async def execution_feed(
    info: Info[Context, None], filter: ExecutionFilter | None, first: int, after: str | None
) -> ExecutionConnection:
    check_first(first)
    context = info.context
    runtime = context.runtime
    spec = _spec(context, filter or ExecutionFilter())
    state = decode_cursor(context, context.cursor_kind(CURSOR_KIND), after)
    if state is None:
        page_size = spec.page_size(first)
        positions = {name: Position() for name in spec.listed}
    else:
        page_size, positions = spec.resume(state)

    async def list_page(source: str, cursor: str | None, size: int) -> ExecutionPage:
        page = await runtime.adapters[source].list_executions(
            cursor=cursor, page_size=size, status=spec.upstream_status
        )
        if page.complete:
            for execution in page.items:
                context.loaders.prime(source, execution)
                runtime.store.put(source, execution)
        return page

    async def load(source: str, ids: Sequence[str]) -> list[ExecutionModel | BaseException]:
        futures = [context.loaders.execution(source, native_id) for native_id in ids]
        return await asyncio.gather(*futures, return_exceptions=True)

    outcome = await Merge(
        positions,
        list_page=list_page,
        load=load,
        judge=spec.judge,
        page_size=page_size,
        max_pages=MAX_UPSTREAM_PAGES,
        max_loads=MAX_FILTER_LOADS,
    ).run(first)
    return _connection(info, spec, page_size, outcome, after)


def _spec(context: Context, given: ExecutionFilter) -> FeedSpec:
    adapters = context.runtime.adapters
    scope = context.caller.scope
    return FeedSpec.read(
        {name: adapters[name].capabilities for name in context.visible_sources()},
        sources=given.sources,
        statuses=given.statuses,
        workflow_id=given.workflow_id,
        scope=scope,
        partitions=context.partitions() if scope is not None else None,
    )


def _connection(
    info: Info[Context, None], spec: FeedSpec, page_size: int, outcome: Outcome, after: str | None
) -> ExecutionConnection:
    runtime = info.context.runtime

    def cursor(positions: dict[str, list[object] | None]) -> str:
        kind = info.context.cursor_kind(CURSOR_KIND)
        return runtime.cursors.encode(kind, spec.state(page_size, positions))

    edges = [
        ExecutionEdge(
            cursor=cursor(e.after),
            node=Execution.from_model(
                e.source, e.item.execution, partial=not e.item.complete, context=info.context
            ),
        )
        for e in outcome.emitted
    ]
    failures = report_failures(info, outcome.failures)
    end_cursor = cursor(outcome.end) if edges or outcome.has_next else after
    return ExecutionConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=outcome.has_next, end_cursor=end_cursor),
        total_count=spec.total(outcome.totals, failed=bool(failures)),
        skipped_sources=[
            SkippedSource(
                source=name,
                reason=f"source '{name}' ({runtime.sources[name].kind.value}) cannot list "
                "executions; read them by id",
            )
            for name in spec.skipped
        ],
        failed_sources=failures,
    )
