"""graphql-core's executor with plain leaf fields answered without their resolver.

A 20-execution answer is about 175 fields, and most are leaves read straight off the model
(``id``, ``startedAt``, a step's ``kind``). graphql-core takes each through a resolve-info object,
the resolver call, an awaitable check and three completion calls.

Here ``execute_field``, graphql-core's per-field hook for ExecutionContext subclasses, answers a
field that ``fields.install`` listed as a plain leaf (no resolver, extension, permission or
directive; no arguments; a scalar or enum type) by reading and coercing the attribute. graphql-core's
own field loop calls it, so fixes to that loop reach us. Any other field, and any leaf whose value
is unusual (null where the type forbids it, a read or a coercion that raises, a coercion to
null), goes through graphql-core's own path, so the answer and its errors are exactly the standard
ones. With resolver middleware installed (a strawberry extension with a ``resolve`` hook) nothing
is answered here, since the middleware must see every field.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import GraphQLResolveInfoHelpers
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.schema.computed import Computed

if TYPE_CHECKING:
    from collections.abc import Callable

    from graphql import GraphQLObjectType
    from graphql.execution.collect_fields import FieldDetailsList
    from graphql.pyutils import AwaitableOrValue, Path, UndefinedType

__all__ = ["PLAIN_LEAVES", "FastExecutionContext", "PlainLeaf"]

PLAIN_LEAVES = "gateway.plain_leaves"
"""Key, in a GraphQLObjectType's ``extensions``, of its plain leaf fields by name."""


class PlainLeaf(NamedTuple):
    attribute: str
    coerce: Callable[[Any], Any]
    """The leaf type's ``coerce_output_value``."""
    non_null: bool


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        self._answer_leaves = middleware is None or not middleware.middlewares
        self.async_helpers = _helpers_without_a_cycle(self)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        if self._answer_leaves:
            leaves: dict[str, PlainLeaf] | None = parent_type.extensions.get(PLAIN_LEAVES)
            leaf = leaves.get(field_details_list[0].node.name.value) if leaves else None
            if leaf is not None:
                try:
                    value = getattr(source, leaf.attribute)
                    if value.__class__ is Computed:
                        # Computed when asked, perhaps awaitable: the standard path does it.
                        return super().execute_field(
                            parent_type, source, field_details_list, path, position_context
                        )
                    if value is None:
                        if not leaf.non_null:
                            return None
                    else:
                        coerced = leaf.coerce(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
                except Exception:  # noqa: S110 - the standard path below reports it
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _helpers_without_a_cycle(context: FastExecutionContext) -> GraphQLResolveInfoHelpers:
    """The resolve-info helpers graphql-core builds, reaching the execution context weakly.

    graphql-core keeps ``async_helpers`` made of bound methods of the execution context itself,
    a reference cycle that holds the request's whole context value (loaders, loaded executions)
    until the garbage collector runs. Through a weak reference the cycle is gone and a request's
    objects are freed as soon as it is answered (``tests/e2e/test_loading.py``). While helpers can
    be called, execution is running and holds the context: a subscription's per-event executors
    are made by a closure over it, and incremental delivery (``@defer``, whose sub-executors could
    outlive it) is off in this schema.
    """
    reference = weakref.ref(context)

    def gather(values: Any) -> Any:
        executing = reference()
        assert executing is not None  # helpers are only called while execution runs
        return executing.gather_async_work(values)

    def track(values: Any) -> None:
        executing = reference()
        assert executing is not None
        executing.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)
