"""Plain fields read straight off the model, and enum names from a dict: the converted schema only.

strawberry's classes still define every type and field (the SDL is theirs); this only changes how
some are answered, with the same answers and errors.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from graphql import GraphQLObjectType, is_leaf_type, is_list_type, is_non_null_type
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from gateway.schema.computed import Computed, resolve_attribute
from gateway.schema.speed.executor import (
    PLAIN_LEAVES,
    PLAIN_OBJECTS,
    ROOT_BATCHES,
    PlainLeaf,
    PlainObject,
    RootBatch,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import strawberry
    from graphql import GraphQLField, GraphQLSchema
    from strawberry.types import Info

__all__ = ["BATCHED_BY", "graphql_schema", "install", "is_plain"]

BATCHED_BY = "gateway.batched_by"
"""Key, in a root field's strawberry ``metadata``, of its batch form (``RootBatch.load``)."""


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema strawberry converted ``schema`` to: the one read of strawberry's
    private ``_schema`` (it has no public accessor), for these resolvers and the cost walk."""
    converted: GraphQLSchema = schema._schema
    return converted


def install(schema: strawberry.Schema) -> None:
    """Enum names by lookup, then plain fields read directly (and plain leaves listed for
    ``executor``), in that order: a leaf's coercion is taken as the enum's after the change."""
    converted = graphql_schema(schema)
    _enum_output_by_lookup(converted)
    # A plain field's resolver is the config's default resolver alone, and only without
    # exception handlers (which strawberry would wrap around it): read as it reads.
    reader = _READERS.get(schema.config.default_resolver)
    if reader is not None and not schema.exception_handlers:
        _plain_attribute_resolvers(converted, reader)
    if not schema.exception_handlers:
        _root_batches(converted, schema.config.info_class)


def is_plain(graphql_field: GraphQLField) -> bool:
    """Whether strawberry answers the field with nothing but ``getattr(source, python_name)``.

    Decided from the field's definition, not from strawberry's ``is_default_resolver`` alone
    (true also for fields with extensions or permission classes): no resolver, no field
    extension (permission classes are one), no directive, no arguments, a field of strawberry's
    own class (a subclass may override how it gets its result), and strawberry's basic-field
    resolver in place (nothing has replaced it).
    """
    field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return (
        type(field) is StrawberryField
        and field.base_resolver is None
        and not field.extensions
        and not field.permission_classes
        and not field.directives
        and field.is_basic_field
        and not graphql_field.args
        and graphql_field.resolve is not None
        and is_default_resolver(graphql_field.resolve)
    )


def _plain_attribute_resolvers(
    graphql_schema: GraphQLSchema, reader: Callable[[str], Callable[[Any, Any], Any]]
) -> None:
    """A plain field (``is_plain``) gets exactly the default resolver's read of its attribute.

    strawberry reaches that getattr through two more calls; a 20-execution answer reads about
    170 such fields (3% of its execution, measured in process). Those that are leaves are also
    listed in their type's ``extensions`` for ``FastExecutionContext`` to answer without a call,
    and so are those of an object type or a list of one, for it to answer whole objects.
    """
    computes = reader is _computed_attribute
    for graphql_type in graphql_schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        leaves: dict[str, PlainLeaf] = {}
        objects: dict[str, PlainObject] = {}
        for name, graphql_field in graphql_type.fields.items():
            if not is_plain(graphql_field):
                continue
            field = graphql_field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
            graphql_field.resolve = reader(field.python_name)
            non_null = is_non_null_type(graphql_field.type)
            field_type = graphql_field.type.of_type if non_null else graphql_field.type
            if is_leaf_type(field_type):
                coerce = field_type.coerce_output_value
                leaves[name] = PlainLeaf(field.python_name, non_null, computes, coerce)
                continue
            is_list = is_list_type(field_type)
            item_type = field_type.of_type if is_list else field_type
            items_non_null = is_list and is_non_null_type(item_type)
            item_type = item_type.of_type if items_non_null else item_type
            if isinstance(item_type, GraphQLObjectType):
                objects[name] = PlainObject(
                    field.python_name, non_null, computes, item_type, is_list, items_non_null
                )
        marks: dict[str, dict[str, PlainLeaf] | dict[str, PlainObject]] = {}
        marks |= {PLAIN_LEAVES: leaves} if leaves else {}
        marks |= {PLAIN_OBJECTS: objects} if objects else {}
        if marks:
            graphql_type.extensions = {**(graphql_type.extensions or {}), **marks}


def _root_batches(graphql_schema: GraphQLSchema, info_class: type[Info[Any, Any]]) -> None:
    """List the query type's fields that declare a batch form (``metadata={BATCHED_BY: load}``)
    and have nothing strawberry would run around their resolver (no extension, permission
    class or directive of their own), with one argument: ``FastExecutionContext`` then resolves
    several of them in one call."""
    query = graphql_schema.query_type
    if query is None:
        return
    batches: dict[str, RootBatch] = {}
    for name, graphql_field in query.fields.items():
        field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(field, StrawberryField) or field.extensions or field.permission_classes:
            continue
        load = field.metadata.get(BATCHED_BY)
        if load is None:
            continue
        if len(graphql_field.args) == 1 and len(field.arguments) == 1:
            argument = field.arguments[0]
            if next(iter(graphql_field.args)) == argument.python_name:
                batches[name] = RootBatch(load, argument.python_name, field, info_class)
    if batches:
        query.extensions = {**(query.extensions or {}), ROOT_BATCHES: batches}


def _attribute(name: str) -> Callable[[Any, Any], Any]:
    def resolve(source: Any, _info: Any) -> Any:
        return getattr(source, name)

    return resolve


def _computed_attribute(name: str) -> Callable[[Any, Any], Any]:
    def resolve(source: Any, _info: Any) -> Any:
        value = getattr(source, name)
        return value.compute(source) if value.__class__ is Computed else value

    return resolve


_READERS: dict[object, Callable[[str], Callable[[Any, Any], Any]]] = {
    getattr: _attribute,
    resolve_attribute: _computed_attribute,
}
"""Each default resolver the speed work knows, and how it reads one attribute the same way."""


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
