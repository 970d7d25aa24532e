"""The strawberry schema: types over the model, the root Query, error classification."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.schema.config import StrawberryConfig

from gateway.config import LimitsConfig
from gateway.core.errors import classify
from gateway.schema.executor import GatewayExecutionContext
from gateway.schema.fast_paths import install_fast_paths
from gateway.schema.limits import OperationLimits
from gateway.schema.mutation import Mutation
from gateway.schema.operation import DocumentCaches, GatewayOperation
from gateway.schema.query import Query
from gateway.schema.subscription import Subscription
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from graphql import GraphQLError
    from strawberry.types import ExecutionContext

__all__ = ["GatewaySchema", "build_schema", "schema"]


class GatewaySchema(strawberry.Schema):
    """A strawberry Schema whose errors all carry the design's ``extensions.code``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("execution_context_class", GatewayExecutionContext)
        super().__init__(*args, **kwargs)
        install_fast_paths(self._schema, default_resolver=self.config.default_resolver)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = None
        if execution_context is not None and execution_context.context is not None:
            request_id = getattr(execution_context.context, "request_id", None)
        classify(errors, request_id)


@functools.lru_cache(maxsize=8)
def build_schema(
    limits: LimitsConfig | None = None, *, introspection: bool = True
) -> GatewaySchema:
    """The schema with ``limits`` enforced (gateway/limits.py); one per distinct config.

    Extensions never change the SDL, so ``schema`` (the defaults) is what export-schema prints.
    """
    limits = limits or LimitsConfig()
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Execution, Step, Approval],
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            functools.partial(
                GatewayOperation,
                OperationLimits(limits, introspection=introspection),
                DocumentCaches(
                    parsed=limits.parser_cache_size, validated=limits.validation_cache_size
                ),
            )
        ],
    )


schema = build_schema()
