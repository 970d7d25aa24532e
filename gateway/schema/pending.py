"""``Query.pendingApprovals``: what waits for a human now, across the approval-capable sources.

Found through the upstreams' list endpoints (Rotavision's execution list, Velt's list of
``running`` executions), then the loaders (batched) for items a list gives without their steps.
Sources are walked in config order, each newest first; the cursor records the source, the
upstream's own page cursor and the position within that page, so paging visits every waiting
approval once while the data stays put.
"""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.types import Info

from adapters.base import Capability
from adapters.errors import UpstreamError
from adapters.model import ApprovalStatus, ExecutionStatus
from adapters.model import Execution as ExecutionModel
from gateway.core.errors import bad_user_input
from gateway.schema.connections import PageInfo, SourceFailure, check_first, decode_cursor
from gateway.schema.context import Context
from gateway.schema.types import Approval, Execution

__all__ = ["ApprovalConnection", "ApprovalEdge", "pending_approvals"]

CURSOR_KIND = "pendingApprovals"
UPSTREAM_PAGE_SIZE = 50
MAX_UPSTREAM_PAGES = 20
"""Upstream list pages one call may walk before answering with what it found (and a cursor)."""


@strawberry.type
class ApprovalEdge:
    cursor: str
    node: Approval


@strawberry.type
class ApprovalConnection:
    edges: list[ApprovalEdge]
    page_info: PageInfo
    failed_sources: list[SourceFailure] = strawberry.field(
        description="Sources that could not be listed for this page; their approvals are missing."
    )


async def pending_approvals(
    info: Info[Context, None], sources: list[str] | None, first: int, after: str | None
) -> ApprovalConnection:
    check_first(first)
    runtime = info.context.runtime
    capable = [n for n, a in runtime.adapters.items() if Capability.APPROVE in a.capabilities]
    if sources is not None:
        unknown = sorted(set(sources) - set(runtime.sources))
        if unknown:
            raise bad_user_input(f"sources: unknown source(s) {', '.join(unknown)}")
        capable = [n for n in capable if n in sources]
    state = decode_cursor(info.context, CURSOR_KIND, after) or {
        "s": 0,
        "c": None,
        "o": 0,
        "n": capable,
    }
    index, cursor, offset = state.get("s"), state.get("c"), state.get("o")
    if (
        not isinstance(index, int)
        or not isinstance(offset, int)
        or not (cursor is None or isinstance(cursor, str))
    ):
        raise bad_user_input("after: the cursor is not one this gateway issued")
    if state.get("n") != capable:
        raise bad_user_input("after: the cursor belongs to another set of sources")

    edges: list[ApprovalEdge] = []
    failures: list[SourceFailure] = []
    pages = 0
    has_next = False
    while index < len(capable) and pages < MAX_UPSTREAM_PAGES:
        source = capable[index]
        adapter = runtime.adapters[source]
        try:
            page = await adapter.list_executions(
                cursor=cursor,
                page_size=UPSTREAM_PAGE_SIZE,
                status=ExecutionStatus.WAITING_FOR_APPROVAL,
            )
            executions = await _complete(info, source, page.items, page.complete)
        except UpstreamError as exc:
            failures.append(SourceFailure(source=source, code=exc.code, message=exc.message))
            index, cursor, offset = index + 1, None, 0
            continue
        pages += 1
        waiting = [
            (execution, approval)
            for execution in executions
            for approval in execution.approvals
            if approval.status is ApprovalStatus.PENDING
        ]
        for position in range(offset, len(waiting)):
            if len(edges) == first:
                has_next = True
                break
            execution, approval = waiting[position]
            view = Execution.from_model(source, execution)
            edge_cursor = runtime.cursors.encode(
                CURSOR_KIND, {"s": index, "c": cursor, "o": position + 1, "n": capable}
            )
            edges.append(ApprovalEdge(cursor=edge_cursor, node=Approval.from_model(view, approval)))
        if has_next:
            break
        if page.next_cursor:
            cursor, offset = page.next_cursor, 0
        else:
            index, cursor, offset = index + 1, None, 0
    else:
        has_next = index < len(capable)
    if has_next and len(edges) < first:
        # The walk stopped at its bound: resume from where it stopped, not from the last edge.
        end_cursor: str | None = runtime.cursors.encode(
            CURSOR_KIND, {"s": index, "c": cursor, "o": offset, "n": capable}
        )
    else:
        end_cursor = edges[-1].cursor if edges else after
    return ApprovalConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=end_cursor),
        failed_sources=failures,
    )


async def _complete(
    info: Info[Context, None], source: str, items: tuple[ExecutionModel, ...], complete: bool
) -> list[ExecutionModel]:
    """List items as full executions: primed into the loader when complete, else loaded (batched)."""
    loaders = info.context.loaders
    if complete:
        for item in items:
            loaders.prime(source, item)
        return list(items)
    candidates = [
        i
        for i in items
        if i.status in (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_FOR_APPROVAL)
    ]
    return list(await asyncio.gather(*(loaders.execution(source, i.native_id) for i in candidates)))
