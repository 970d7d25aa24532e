"""The strawberry schema: types over the model, the root Query, error classification."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.schema.config import StrawberryConfig

from gateway.config import LimitsConfig
from gateway.core.errors import classify
from gateway.schema import speed
from gateway.schema.computed import resolve_attribute
from gateway.schema.introspection import IntrospectionAnswers
from gateway.schema.limits import OperationLimits
from gateway.schema.mutation import Mutation
from gateway.schema.operation import GatewayOperation
from gateway.schema.query import Query
from gateway.schema.subscription import Subscription
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from graphql import GraphQLError
    from strawberry.types import ExecutionContext

__all__ = ["GatewaySchema", "build_schema", "schema"]


class GatewaySchema(strawberry.Schema):
    """A strawberry Schema whose errors all carry the design's ``extensions.code``.

    ``fast_paths`` (``[server] fast_paths``) installs the speed work (gateway/schema/speed/);
    off, execution is stock strawberry's.
    """

    def __init__(self, *args: Any, fast_paths: bool = True, **kwargs: Any) -> None:
        if fast_paths:
            kwargs.setdefault("execution_context_class", speed.FastExecutionContext)
        super().__init__(*args, **kwargs)
        self.fast_paths = fast_paths
        self.introspection_answers: IntrospectionAnswers | None = None
        if fast_paths:
            speed.install(self)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = None
        if execution_context is not None and execution_context.context is not None:
            request_id = getattr(execution_context.context, "request_id", None)
        classify(errors, request_id)


@functools.lru_cache(maxsize=8)
def build_schema(
    limits: LimitsConfig | None = None, *, introspection: bool = True, fast_paths: bool = True
) -> GatewaySchema:
    """The schema with ``limits`` enforced (gateway/limits.py); one per distinct config.

    Extensions never change the SDL, so ``schema`` (the defaults) is what export-schema prints.
    """
    limits = limits or LimitsConfig()
    answers = IntrospectionAnswers()
    built = GatewaySchema(
        fast_paths=fast_paths,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Execution, Step, Approval],
        # Plain fields may hold a Computed value (gateway/schema/computed.py).
        config=StrawberryConfig(auto_camel_case=True, default_resolver=resolve_attribute),
        extensions=[
            functools.partial(
                GatewayOperation,
                OperationLimits(limits, introspection=introspection),
                speed.DocumentCaches(
                    parsed=limits.parser_cache_size, validated=limits.validation_cache_size
                )
                if fast_paths
                else None,
                answers,
            )
        ],
    )
    built.introspection_answers = answers
    return built


schema = build_schema()
