"""Everything in the gateway that leans on strawberry's or graphql-core's internals, in one place.

The rest of the gateway uses only their public API. What is here is of two kinds:

- speed work, switched by ``[server] fast_paths`` (on by default; off leaves stock strawberry):
  plain fields read straight off the model (``fields``), plain leaves answered without their
  resolver call (``executor``), enum names from a dict (``fields``), and the parse and validation
  caches (``documents``), and the view's reading of the most common request, a plain JSON
  ``POST`` (``plain_post``). docs/performance.md says what each buys;
- ``graphql_schema``: the graphql-core schema strawberry builds, which the cost walk needs and
  strawberry exposes only as a private attribute. It is needed whatever the switch says.

``scripts/compat`` runs the suite against the newest strawberry and graphql-core, so a change in
what these rely on shows as a failing test before a pin bump.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.schema.speed.executor import PLAIN_LEAVES, FastExecutionContext, PlainLeaf
from gateway.schema.speed.fields import install, is_plain
from gateway.schema.speed.plain_post import is_plain_json_post, plain_request_data

if TYPE_CHECKING:
    import strawberry
    from graphql import GraphQLSchema

__all__ = [
    "PLAIN_LEAVES",
    "FastExecutionContext",
    "PlainLeaf",
    "graphql_schema",
    "install",
    "is_plain",
    "is_plain_json_post",
    "plain_request_data",
]


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema strawberry converted ``schema`` to (strawberry keeps it private)."""
    converted: GraphQLSchema = schema._schema
    return converted
