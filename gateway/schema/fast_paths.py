"""Changes to the converted (graphql-core) schema that make hot paths cheaper, answers unchanged.

strawberry's classes still define every type and field (the SDL is theirs); these only replace
how a few of them are answered, where a 20-execution query showed the cost.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from graphql import GraphQLObjectType, is_leaf_type, is_non_null_type
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from gateway.schema.executor import PLAIN_LEAVES, PlainLeaf
from gateway.schema.types import Execution

if TYPE_CHECKING:
    from collections.abc import Callable

    from graphql import GraphQLResolveInfo, GraphQLSchema

    from gateway.schema.context import Context
    from gateway.schema.types import ExecutionStatus, Step

__all__ = ["install_fast_paths"]


def install_fast_paths(graphql_schema: GraphQLSchema, *, default_resolver: object) -> None:
    """``default_resolver``: strawberry's config's; plain fields are read directly only when it
    is ``getattr`` (the default), since that is what they would call."""
    _enum_output_by_lookup(graphql_schema)
    if default_resolver is getattr:
        _plain_attribute_resolvers(graphql_schema)
    _direct_resolvers(graphql_schema)


def _plain_attribute_resolvers(graphql_schema: GraphQLSchema) -> None:
    """A field strawberry answers with ``getattr(source, python_name)`` gets exactly that.

    strawberry marks these resolvers ``_is_default`` (no resolver, no extension, no permission,
    no exception handler) and reaches the getattr through two more calls; a 20-execution answer
    reads about 170 such fields (3% of its execution, measured in process). Those that are
    leaves are also listed in their type's ``extensions`` for the executor to answer inline
    (gateway/schema/executor.py), which enum coercion above must precede.
    """
    for graphql_type in graphql_schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        leaves: dict[str, PlainLeaf] = {}
        for name, graphql_field in graphql_type.fields.items():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(field, StrawberryField) or not getattr(
                graphql_field.resolve, "_is_default", False
            ):
                continue
            graphql_field.resolve = _attribute(field.python_name)
            non_null = is_non_null_type(graphql_field.type)
            leaf_type = graphql_field.type.of_type if non_null else graphql_field.type
            if is_leaf_type(leaf_type) and not graphql_field.args:
                leaves[name] = PlainLeaf(field.python_name, leaf_type.coerce_output_value, non_null)
        if leaves:
            graphql_type.extensions = {**(graphql_type.extensions or {}), PLAIN_LEAVES: leaves}


def _attribute(name: str) -> Callable[[Any, Any], Any]:
    def resolve(source: Any, _info: Any) -> Any:
        return getattr(source, name)

    return resolve


def _enum_output_by_lookup(graphql_schema: GraphQLSchema) -> None:
    """Answer each enum member's GraphQL name from a dict built once.

    strawberry finds the name by scanning every value of the enum (two property reads each):
    about 700 reads for a 20-execution answer, a tenth of its completion time. Anything the dict
    does not hold still goes through strawberry's own coercion, errors included.
    """
    for graphql_type in graphql_schema.type_map.values():
        if not isinstance(graphql_type, CustomGraphQLEnumType):
            continue
        names: dict[Any, str] = {
            graphql_type.wrapped_cls(value.value): name
            for name, value in graphql_type.values.items()
        }
        graphql_type.coerce_output_value = functools.partial(  # type: ignore[method-assign]
            _enum_name, names, graphql_type.coerce_output_value
        )


def _enum_name(names: dict[Any, str], coerce: Callable[[Any], str], value: Any) -> str:
    name = names.get(value)
    return name if name is not None else coerce(value)


def _direct_resolvers(graphql_schema: GraphQLSchema) -> None:
    """``Execution.status`` and ``Execution.steps`` call their methods without strawberry's wrapper.

    Nearly every query selects both, once per execution, and the wrapper (argument conversion,
    a strawberry Info, extension hooks) was 7% of a cached 20-execution query's execution. They
    take no arguments and need only the request context, which graphql-core's own info carries,
    so the answers are the same. graphql-core's middleware (strawberry's ``resolve`` hooks) still
    wraps them.
    """
    execution_type = graphql_schema.type_map["Execution"]
    assert isinstance(execution_type, GraphQLObjectType)
    fields = execution_type.fields
    fields["status"].resolve = _execution_status
    fields["steps"].resolve = _execution_steps


def _execution_status(execution: Execution, info: GraphQLResolveInfo[Context]) -> ExecutionStatus:
    return execution.status_in(info.context)


def _execution_steps(execution: Execution, info: GraphQLResolveInfo[Context]) -> list[Step]:
    return execution.steps_in(info.context)
