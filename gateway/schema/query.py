"""The root Query type."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.types import Info

from gateway.core.errors import limit_error
from gateway.core.pending import UPSTREAM_PAGE_SIZE
from gateway.gate import FixedCost, ListSize
from gateway.schema.cacheability import FIXED
from gateway.schema.connections import PAGED
from gateway.schema.context import Context
from gateway.schema.feed import ExecutionConnection, ExecutionFilter, execution_feed
from gateway.schema.pending import ApprovalConnection, pending_approvals
from gateway.schema.resolve import (
    execution_ref,
    load_execution,
    load_executions,
    load_node,
    start_executions,
)
from gateway.schema.speed.fields import BATCHED_BY
from gateway.schema.types import Capability, Execution, Node, Source

__all__ = ["Query"]


@strawberry.type
class Query:
    @strawberry.field(
        description="One execution by global id; null with NOT_FOUND when absent.",
        directives=[FIXED],
        metadata={BATCHED_BY: start_executions},  # many aliased ones: one call (speed seam)
    )
    async def execution(self, info: Info[Context, None], id: strawberry.ID) -> Execution | None:
        return await load_execution(info, execution_ref(info, id))

    @strawberry.field(
        description="Executions by global id, one entry per id in order (at most the gateway's "
        "limits.max_ids); an id that fails is null with its own error, the others still answer.",
        directives=[FIXED, ListSize(sized_by="ids")],
    )
    async def executions(
        self, info: Info[Context, None], ids: list[strawberry.ID]
    ) -> list[Execution | None]:
        max_ids = info.context.runtime.config.limits.max_ids
        if len(ids) > max_ids:
            raise limit_error("max_ids", max_ids, f"ids: {len(ids)} ids in one call")

        # Failed ids come back as exceptions: graphql-core makes each its own index's error.
        return cast("list[Execution | None]", await load_executions(info, ids))

    @strawberry.field(
        description="Any object by its global id: an Execution, Step or Approval.",
        directives=[FIXED],
    )
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(description="The configured sources, with their capabilities and counters.")
    def sources(self, info: Info[Context, None]) -> list[Source]:
        runtime = info.context.runtime
        return [Source.from_runtime(runtime, name) for name in info.context.visible_sources()]

    @strawberry.field(
        description="Approvals waiting for a human now, across the sources that have approvals "
        "(optionally only `sources`), newest first per source, paged with `after`. "
        "`assignedToMe`: only those whose declared reviewers include the caller's reviewer id "
        "and which they have not voted on yet (the inbox).",
        # Per source with approvals: the list, then a page of execution loads.
        directives=[
            FixedCost(upstream_calls=1 + UPSTREAM_PAGE_SIZE, per_source=Capability.APPROVE),
            PAGED,
        ],
    )
    async def pending_approvals(
        self,
        info: Info[Context, None],
        sources: list[str] | None = None,
        first: int = 20,
        after: str | None = None,
        assigned_to_me: bool = False,
    ) -> ApprovalConnection:
        return await pending_approvals(info, sources, first, after, assigned_to_me)

    @strawberry.field(
        description="Executions across every source that can list them, newest first by start "
        "time (ties by id), filtered by `filter`, paged with `first` (1..100) and `after`. "
        "Sources that cannot list are named in `skippedSources`; a source that fails is named "
        "in `failedSources` (and an error) while the others answer.",
        directives=[FixedCost(upstream_calls=1, per_source=Capability.LIST), PAGED],
    )
    async def execution_feed(
        self,
        info: Info[Context, None],
        filter: ExecutionFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> ExecutionConnection:
        return await execution_feed(info, filter, first, after)
