"""The root Query type."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.errors import bad_user_input
from gateway.schema.resolve import MAX_IDS, execution_ref, load_execution, load_node
from gateway.schema.types import Execution, Node, Source

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ["Query"]


@strawberry.type
class Query:
    @strawberry.field(description="One execution by global id; null with NOT_FOUND when absent.")
    async def execution(self, info: Info[Context, None], id: strawberry.ID) -> Execution | None:
        return await load_execution(info, execution_ref(info, id))

    @strawberry.field(
        description=f"Executions by global id, one entry per id in order (at most {MAX_IDS}); "
        "an id that fails is null with its own error, the others still answer."
    )
    def executions(
        self, info: Info[Context, None], ids: list[strawberry.ID]
    ) -> list[Execution | None]:
        if len(ids) > MAX_IDS:
            raise bad_user_input(f"ids: at most {MAX_IDS} ids per call, got {len(ids)}")

        async def one(value: str) -> Execution:
            return await load_execution(info, execution_ref(info, value))

        # graphql-core completes awaitable list items one by one, so each id fails on its own.
        return cast("list[Execution | None]", [cast("Awaitable[Execution]", one(v)) for v in ids])

    @strawberry.field(description="Any object by its global id: an Execution, Step or Approval.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(description="The configured sources, with their capabilities and counters.")
    def sources(self, info: Info[Context, None]) -> list[Source]:
        runtime = info.context.runtime
        return [Source.from_runtime(runtime, name) for name in runtime.sources]
