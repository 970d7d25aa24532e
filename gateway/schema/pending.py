"""``Query.pendingApprovals``: what waits for a human now, across the approval-capable sources.

The walk itself is ``gateway/core/pending.py``; this module reads the arguments and the cursor,
binds the walk to the upstreams and the request's loaders, and shapes the Relay connection. Found
through the upstreams' list endpoints (Rotavision's execution list, Velt's list of ``running``
executions), then the loaders (batched) for items a list gives without their steps.

``assignedToMe`` keeps the approvals whose declared reviewers include the caller's
``reviewer_id`` and who has not voted on them yet (``decision_rules.assigned_to``); its cursors
are signed for that reviewer, so they cannot resume another walk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from adapters.model import ExecutionStatus
from gateway.core import decision_rules
from gateway.core.errors import bad_user_input
from gateway.core.pending import (
    CURSOR_KIND,
    PendingPosition,
    PendingWalk,
    UnknownSources,
    approval_sources,
)
from gateway.schema.connections import (
    PAGE_ITEMS,
    PageInfo,
    SourceFailure,
    check_first,
    decode_position,
    report_failures,
)
from gateway.schema.context import Context
from gateway.schema.types import Approval, Execution

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapters.base import ExecutionPage
    from adapters.model import Execution as ExecutionModel

__all__ = ["ApprovalConnection", "ApprovalEdge", "pending_approvals"]


@strawberry.type
class ApprovalEdge:
    cursor: str
    node: Approval


@strawberry.type
class ApprovalConnection:
    edges: list[ApprovalEdge] = strawberry.field(directives=[PAGE_ITEMS])
    page_info: PageInfo
    failed_sources: list[SourceFailure] = strawberry.field(
        description="Sources that could not be listed for this page; their approvals are missing "
        "(each is also an error in the response's `errors`)."
    )


async def pending_approvals(
    info: Info[Context, None],
    sources: list[str] | None,
    first: int,
    after: str | None,
    assigned_to_me: bool = False,
) -> ApprovalConnection:
    check_first(first)
    context = info.context
    reviewer = _reviewer(context) if assigned_to_me else None
    kind = context.cursor_kind(CURSOR_KIND if reviewer is None else f"{CURSOR_KIND}:{reviewer}")
    start = _start(context, sources, after, kind)
    keep = functools.partial(decision_rules.assigned_to, reviewer) if reviewer is not None else None

    scope = context.caller.scope
    partitions = context.partitions() if scope is not None else {}

    async def list_page(source: str, cursor: str | None, size: int) -> ExecutionPage:
        page = await context.runtime.adapters[source].list_executions(
            cursor=cursor, page_size=size, status=ExecutionStatus.WAITING_FOR_APPROVAL
        )
        if scope is not None:  # another partition's items are not there for this caller
            partition_of = partitions[source]
            kept = tuple(i for i in page.items if scope.allows(source, i, partition_of))
            page = dataclasses.replace(page, items=kept)
        if page.complete:
            for execution in page.items:
                context.loaders.prime(source, execution)
        return page

    async def load(source: str, ids: Sequence[str]) -> list[ExecutionModel | BaseException]:
        futures = [context.loaders.execution(source, native_id) for native_id in ids]
        return await asyncio.gather(*futures, return_exceptions=True)

    page = await PendingWalk(start, list_page=list_page, load=load, keep=keep).run(first)
    encode = functools.partial(context.runtime.cursors.encode, kind)
    edges = [
        ApprovalEdge(
            cursor=encode(item.after.dump()),
            node=Approval.from_model(
                Execution.from_model(item.source, item.execution), item.approval
            ),
        )
        for item in page.items
    ]
    end_cursor = encode(page.end.dump()) if edges or page.has_next else after
    return ApprovalConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=end_cursor),
        failed_sources=report_failures(info, page.failures),
    )


def _reviewer(context: Context) -> str:
    """The caller's reviewer id, which ``assignedToMe`` looks for among declared reviewers."""
    reviewer = context.caller.reviewer_id
    if not reviewer:
        raise bad_user_input(
            f"assignedToMe: client '{context.caller.name}' has no reviewer_id, so no approval "
            "is assigned to it (auth.clients reviewer_id, or auth.anonymous_reviewer_id)"
        )
    return reviewer


def _start(
    context: Context, sources: list[str] | None, after: str | None, kind: str
) -> PendingPosition:
    """Where this page starts: the beginning, or the position ``after`` holds (same sources)."""
    adapters = context.runtime.adapters
    visible = context.visible_sources()
    try:
        capable = approval_sources({n: adapters[n].capabilities for n in visible}, sources)
    except UnknownSources as exc:
        raise bad_user_input(str(exc)) from None
    if after is None:
        return PendingPosition(capable)
    position = decode_position(context, kind, after, PendingPosition.load)
    if position.sources != capable:
        raise bad_user_input("after: the cursor belongs to another set of sources")
    return position
