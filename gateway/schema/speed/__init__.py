"""The schema's reliance on strawberry's or graphql-core's internals, in one place.

The few other reaches past the libraries' public API are listed, each with its reason, in
docs/design-changes.md ("Library internals kept"). What is here is of two kinds:

- speed work, switched by ``[server] fast_paths`` (on by default; off leaves stock strawberry):
  plain fields read straight off the model (``fields``), plain leaves answered without their
  resolver call and objects of plain fields answered whole from a plan (``executor``), aliased
  root fields with a batch form (``BATCHED_BY``) resolved by one call (``executor``), enum names
  from a dict (``fields``), and the view's reading of the most common request, a plain JSON
  ``POST`` (``plain_post``). docs/performance.md says what
  each buys; the parse and validation caches are the gate's (gateway/gate/documents.py);
- ``graphql_schema`` (in ``fields``): the graphql-core schema strawberry builds, which the cost
  walk needs and strawberry exposes only as a private attribute. It is needed whatever the
  switch says.

``scripts/compat`` runs the suite against the newest strawberry, graphql-core and uvicorn, so a
change in what these rely on shows as a failing test before a pin bump.
"""

from __future__ import annotations

from gateway.schema.speed.executor import (
    PLAIN_LEAVES,
    PLAIN_OBJECTS,
    ROOT_BATCHES,
    FastExecutionContext,
    PlainLeaf,
    PlainObject,
    RootBatch,
)
from gateway.schema.speed.fields import BATCHED_BY, graphql_schema, install, is_plain
from gateway.schema.speed.plain_post import is_plain_json_post, plain_request_data

__all__ = [
    "BATCHED_BY",
    "PLAIN_LEAVES",
    "PLAIN_OBJECTS",
    "ROOT_BATCHES",
    "FastExecutionContext",
    "PlainLeaf",
    "PlainObject",
    "RootBatch",
    "graphql_schema",
    "install",
    "is_plain",
    "is_plain_json_post",
    "plain_request_data",
]
