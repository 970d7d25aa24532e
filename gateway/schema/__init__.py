"""The strawberry schema: types over the model, the root Query, error classification."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from strawberry.schema.config import StrawberryConfig

from gateway.errors import classify
from gateway.schema.query import Query
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from graphql import GraphQLError
    from strawberry.types import ExecutionContext

__all__ = ["GatewaySchema", "build_schema", "schema"]


class GatewaySchema(strawberry.Schema):
    """A strawberry Schema whose errors all carry the design's ``extensions.code``."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = None
        if execution_context is not None and execution_context.context is not None:
            request_id = getattr(execution_context.context, "request_id", None)
        classify(errors, request_id)


def build_schema() -> GatewaySchema:
    return GatewaySchema(
        query=Query,
        types=[Execution, Step, Approval],
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
