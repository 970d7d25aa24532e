"""A second subgraph for the supergraph test: support tickets that name the execution they are about.

It only holds each ticket's execution id (``Execution`` is an entity it references and cannot
resolve), so every field of an execution reaches the router through the gateway's ``_entities``.
"""

from __future__ import annotations

import strawberry
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

__all__ = ["ExecutionReference", "Ticket", "tickets_app"]


@strawberry.federation.type(name="Execution", keys=[Key(fields=FieldSet("id"), resolvable=False)])
class ExecutionReference:
    id: strawberry.ID


@strawberry.type
class Ticket:
    id: strawberry.ID
    title: str
    execution: ExecutionReference


def tickets_app(execution_ids: list[str]) -> GraphQL[None, None]:
    """A subgraph answering ``tickets``: one ticket per id in ``execution_ids``, in order."""
    tickets = [
        Ticket(
            id=strawberry.ID(f"T-{n}"),
            title=f"Customer asks about run {n}",
            execution=ExecutionReference(id=strawberry.ID(execution_id)),
        )
        for n, execution_id in enumerate(execution_ids, start=1)
    ]

    @strawberry.type
    class Query:
        @strawberry.field
        def tickets(self) -> list[Ticket]:
            return tickets

    return GraphQL(strawberry.federation.Schema(query=Query, federation_version="2.3"))
