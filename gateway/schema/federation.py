"""The schema as an Apollo Federation v2 subgraph (``server.federation``, docs/federation.md).

``Execution``, ``Step`` and ``Approval`` are entities keyed by ``id``. A router's ``_entities``
call is answered through the request's loaders, as ``executions(ids:)`` is: one upstream call per
distinct execution, however many representations name it. The schema is a ``GatewaySchema``, so
every operation, ``_entities`` and ``_service`` included, passes the same gate (limits, roles).

The three types are shared with the plain schema, whose SDL must not change. strawberry reads a
type's ``@key`` from its definition while it builds a schema and when it prints one, so the keys
are on the definitions only while this schema is built and its SDL printed (``_keyed``), and
``_service`` answers that SDL, printed once.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from graphql import print_schema as print_graphql_schema
from strawberry.federation import Schema as FederationSchema
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.printer import print_schema
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from gateway.core.errors import bad_user_input, limit_error
from gateway.gate import CallCost, ListSize
from gateway.schema import GatewaySchema
from gateway.schema.context import Context
from gateway.schema.query import Query
from gateway.schema.resolve import load_node
from gateway.schema.speed import graphql_schema
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "ENTITY_KEY",
    "ENTITY_TYPES",
    "FEDERATION_VERSION",
    "Entity",
    "FederatedGatewaySchema",
    "FederatedQuery",
    "SubgraphService",
]

FEDERATION_VERSION = "2.3"
"""The spec version the subgraph links: ``@key`` is all it uses, and every router reads 2.3."""
ENTITY_KEY = "id"
ENTITY_TYPES: dict[str, type[Execution | Step | Approval]] = {
    "Execution": Execution,
    "Step": Step,
    "Approval": Approval,
}
"""The entities by ``__typename``: each resolves from its global id (``node(id:)``'s ids)."""


Entity = Annotated[Approval | Execution | Step, strawberry.union("_Entity")]


@strawberry.type(name="_Service", description="This subgraph, as a router composes it.")
class SubgraphService:
    sdl: str


@strawberry.type(name="Query")
class FederatedQuery(Query):
    """The root Query and the two fields a router asks a subgraph.

    Both are declared here, so strawberry's federation adds neither: its own ``_entities``
    resolves one representation at a time (and its entity union counts ``Step._execution``, a
    ``Private[Execution]``, as a second ``Execution``: an invalid schema), and its ``_service``
    prints the SDL per call, after the keys are gone.
    """

    @strawberry.field(
        name="_entities",
        # An execution per representation, as executions(ids:): one call each at most.
        directives=[CallCost(upstream_calls=1), ListSize(sized_by="representations")],
    )
    async def entities(
        self, info: Info[Context, None], representations: list[FederationAny]
    ) -> list[Entity | None]:
        """Each representation's entity, or that item's own error, in the order asked.

        At most ``limits.max_ids`` of them, as ``executions(ids:)``. Every load starts in one
        tick, so the loaders batch them and representations of one execution share its fetch
        (a step and its approval cost their execution's one call).
        """
        max_ids = info.context.runtime.config.limits.max_ids
        if len(representations) > max_ids:
            raise limit_error(
                "max_ids", max_ids, f"representations: {len(representations)} in one call"
            )
        found = await asyncio.gather(
            *(_entity(info, representation) for representation in representations),
            return_exceptions=True,
        )
        for outcome in found:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
        # graphql-core answers an exception in the list as that index's own error.
        return cast("list[Entity | None]", found)

    @strawberry.field(name="_service")
    def subgraph_service(self, info: Info[Context, None]) -> SubgraphService:
        return SubgraphService(sdl=cast("FederatedGatewaySchema", info.schema).subgraph_sdl)


class FederatedGatewaySchema(GatewaySchema, FederationSchema):
    """A ``GatewaySchema`` that is also strawberry's federation schema: the gate, the speed
    work and the error codes of the one, the entity union, ``_Any`` and ``@link`` of the other."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["query"] = FederatedQuery
        kwargs.setdefault("federation_version", FEDERATION_VERSION)
        with _keyed(ENTITY_TYPES.values()):
            super().__init__(*args, **kwargs)
            self.subgraph_sdl = print_schema(self)
            """The SDL a router composes: today's schema, its entities' ``@key``, federation's
            own fields and the ``@link`` that imports them."""

    def as_str(self) -> str:
        """Every definition, federation's directives and ``link__*`` types included: SDL that
        graphql-core builds on its own (the answer cache reads it). Routers read ``_service``."""
        return print_graphql_schema(graphql_schema(self))


async def _entity(info: Info[Context, None], representation: object) -> Execution | Step | Approval:
    """The entity a router's representation (``{"__typename": …, "id": …}``) names."""
    if not isinstance(representation, dict):
        raise bad_user_input("a representation is an object with __typename and id")
    typename, value = representation.get("__typename"), representation.get(ENTITY_KEY)
    wanted = ENTITY_TYPES.get(typename) if isinstance(typename, str) else None
    if wanted is None:
        known = ", ".join(ENTITY_TYPES)
        raise bad_user_input(f"a representation's __typename is one of {known}")
    if not isinstance(value, str):
        raise bad_user_input(f"a {typename} representation needs its id, a string")
    entity = await load_node(info, value)
    if not isinstance(entity, wanted):
        raise bad_user_input(f"'{value}' is not the id of a {typename}")
    return entity


@contextmanager
def _keyed(types: Iterable[type[Any]]) -> Iterator[None]:
    """``@key(fields: "id")`` on ``types``' definitions for the block, then exactly as before.

    Schemas are built synchronously, on one thread, at start-up (``build_schema``), so the plain
    schema never sees the keys; its SDL stays the one ``export-schema`` prints.
    """
    definitions = [get_object_definition(cls, strict=True) for cls in types]
    saved = [definition.directives for definition in definitions]
    try:
        for definition, directives in zip(definitions, saved, strict=True):
            definition.directives = [*(directives or ()), Key(fields=FieldSet(ENTITY_KEY))]
        yield
    finally:
        for definition, directives in zip(definitions, saved, strict=True):
            definition.directives = directives
