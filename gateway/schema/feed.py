"""``Query.executionFeed``: one list of executions across every source that can list, newest first.

The merge itself is ``gateway/merge.py``; this module reads the filter, the cursor and the
sources, runs one page of the merge, and shapes the Relay connection (docs/feed.md).

Filters: one status goes upstream where the API can filter (the adapter maps it, or ignores a
status it has no word for); every status filter and ``workflowId`` are applied here as well. A
list item that lacks its steps may report RUNNING for a run that waits for a human (Velt): when
the filter tells RUNNING from WAITING_FOR_APPROVAL, such items are loaded (through the loaders,
in batches) before they are judged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from adapters.base import Capability, ExecutionPage
from adapters.model import Execution as ExecutionModel
from adapters.model import ExecutionStatus
from gateway.core.errors import bad_user_input, upstream_extensions
from gateway.core.merge import Item, Merge, Position, Verdict, status_needs_steps
from gateway.core.runtime import Runtime
from gateway.schema.connections import (
    MAX_FIRST,
    PageInfo,
    SourceFailure,
    check_first,
    decode_cursor,
)
from gateway.schema.context import Context
from gateway.schema.types import Execution

__all__ = [
    "ExecutionConnection",
    "ExecutionEdge",
    "ExecutionFilter",
    "SkippedSource",
    "execution_feed",
]

CURSOR_KIND = "executionFeed"
CURSOR_VERSION = 1
MAX_UPSTREAM_PAGES = 10
"""Upstream list pages one call may fetch per source before answering with what it has."""
MAX_FILTER_LOADS = 250
"""Executions one call may load to decide a status filter before answering with what it has."""
MIN_PAGE_SIZE = 20
FILTERED_PAGE_SIZE = MAX_FIRST
"""The upstream page size when the gateway filters: bigger pages, fewer round trips."""


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
    edges: list[ExecutionEdge]
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


@dataclass(frozen=True, slots=True)
class _Spec:
    """The filter, read and checked against the configured sources."""

    listed: tuple[str, ...]
    skipped: tuple[str, ...]
    statuses: frozenset[ExecutionStatus] | None
    workflow_id: str | None
    capabilities: dict[str, frozenset[Capability]]

    @classmethod
    def read(cls, runtime: Runtime, given: ExecutionFilter | None) -> _Spec:
        given = given or ExecutionFilter()
        names = list(runtime.sources)
        if given.sources is not None:
            if not given.sources:
                raise bad_user_input("filter.sources: name at least one source, or leave it out")
            unknown = sorted(set(given.sources) - set(names))
            if unknown:
                raise bad_user_input(f"filter.sources: unknown source(s) {', '.join(unknown)}")
            names = [n for n in names if n in given.sources]
        if given.statuses is not None and not given.statuses:
            raise bad_user_input("filter.statuses: give at least one status, or leave it out")
        capabilities = {n: runtime.adapters[n].capabilities for n in names}
        return cls(
            listed=tuple(n for n in names if Capability.LIST in capabilities[n]),
            skipped=tuple(n for n in names if Capability.LIST not in capabilities[n]),
            statuses=frozenset(given.statuses) if given.statuses is not None else None,
            workflow_id=given.workflow_id,
            capabilities=capabilities,
        )

    @property
    def digest(self) -> str:
        """Names the filter and the sources it lists: a cursor is only good for the same."""
        canonical = json.dumps(
            {
                "sources": self.listed,
                "statuses": sorted(s.value for s in self.statuses or ()),
                "anyStatus": self.statuses is None,
                "workflowId": self.workflow_id,
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    @property
    def upstream_status(self) -> ExecutionStatus | None:
        if self.statuses is not None and len(self.statuses) == 1:
            return next(iter(self.statuses))
        return None

    def page_size(self, first: int) -> int:
        if self.statuses is not None or self.workflow_id is not None:
            return FILTERED_PAGE_SIZE
        return min(MAX_FIRST, max(MIN_PAGE_SIZE, first + 1))

    def judge(self, source: str, item: Item) -> Verdict:
        execution = item.execution
        if self.workflow_id is not None and (
            execution.workflow is None or execution.workflow.id != self.workflow_id
        ):
            return Verdict.DROP
        if self.statuses is None:
            return Verdict.KEEP
        if not item.complete and status_needs_steps(execution, self.capabilities[source]):
            running = ExecutionStatus.RUNNING in self.statuses
            waiting = ExecutionStatus.WAITING_FOR_APPROVAL in self.statuses
            if running != waiting:
                return Verdict.LOAD
            return Verdict.KEEP if running else Verdict.DROP
        return Verdict.KEEP if execution.status in self.statuses else Verdict.DROP

    def state(self, page_size: int, positions: dict[str, list[object] | None]) -> dict[str, object]:
        return {"v": CURSOR_VERSION, "f": self.digest, "p": page_size, "s": positions}

    def resume(self, state: dict[str, object]) -> tuple[int, dict[str, Position]]:
        not_ours = bad_user_input("after: the cursor is not one this gateway issued")
        if state.get("v") != CURSOR_VERSION or not isinstance(state.get("f"), str):
            raise not_ours
        if state["f"] != self.digest:
            raise bad_user_input(
                "after: the cursor belongs to another filter or set of sources; start again "
                "without `after` to use this filter"
            )
        page_size, positions = state.get("p"), state.get("s")
        if (
            not isinstance(page_size, int)
            or isinstance(page_size, bool)
            or not 1 <= page_size <= MAX_FIRST
            or not isinstance(positions, dict)
            or set(positions) != set(self.listed)
        ):
            raise not_ours
        try:
            return page_size, {name: Position.load(positions[name]) for name in self.listed}
        except ValueError:
            raise not_ours from None


async def execution_feed(
    info: Info[Context, None], filter: ExecutionFilter | None, first: int, after: str | None
) -> ExecutionConnection:
    check_first(first)
    context = info.context
    runtime = context.runtime
    spec = _Spec.read(runtime, filter)
    state = decode_cursor(context, CURSOR_KIND, after)
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

    async def load(
        source: str, native_ids: Sequence[str]
    ) -> Sequence[ExecutionModel | BaseException]:
        futures = [context.loaders.execution(source, n) for n in native_ids]
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

    edges = [
        ExecutionEdge(
            cursor=runtime.cursors.encode(CURSOR_KIND, spec.state(page_size, e.after)),
            node=Execution.from_model(e.source, e.item.execution, partial=not e.item.complete),
        )
        for e in outcome.emitted
    ]
    failures = []
    path = info.path.as_list()
    for source, error in outcome.failures.items():
        failures.append(SourceFailure(source=source, code=error.code, message=error.message))
        extensions = {**upstream_extensions(error), "source": source}
        context.extra_errors.append(GraphQLError(error.message, path=path, extensions=extensions))
    end_cursor = (
        runtime.cursors.encode(CURSOR_KIND, spec.state(page_size, outcome.end))
        if edges or outcome.has_next
        else after
    )
    return ExecutionConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=outcome.has_next, end_cursor=end_cursor),
        total_count=_total(spec, outcome.totals, bool(failures)),
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


def _total(spec: _Spec, totals: dict[str, int | None], failed: bool) -> int | None:
    if failed or spec.statuses is not None or spec.workflow_id is not None:
        return None
    if set(totals) != set(spec.listed):
        return None
    counts = [totals[name] for name in spec.listed]
    return None if None in counts else sum(c for c in counts if c is not None)
