"""Which operations may have their whole answer cached: a check of the document, once per document.

An answer may be kept only if nothing in it can change once its executions are terminal. That is
a property of the fields the operation selects, declared on them: ``@fixedOnceTerminal`` on a type
(every field of it is fixed once the execution that holds it is terminal: ``Execution``, ``Step``
…) or on one field of a type that also has live ones (``Query.execution``, ``Source.name``). So it
is read from the document against the schema (graphql-core's public ``TypeInfo`` visitor), never
guessed from the answer: a query is cacheable when it is a query and every field it selects is
declared fixed. Anything new (a field added later) is not cacheable until it is declared, so the
cache can only err on the side of asking again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from graphql import (
    FieldNode,
    GraphQLNamedType,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    visit,
)
from strawberry.schema_directive import Location

from gateway.gate.declared import declared, read_once

if TYPE_CHECKING:
    from graphql import DocumentNode, GraphQLSchema

__all__ = ["FIXED", "FixedFields", "FixedOnceTerminal", "is_cacheable"]


@strawberry.schema_directive(
    locations=[Location.OBJECT, Location.INTERFACE, Location.FIELD_DEFINITION],
    description="Fixed once the execution that holds it is terminal (on a type: every field of "
    "it); an answer that selects only such fields may be cached (docs/caching.md).",
)
class FixedOnceTerminal:
    pass


FIXED = FixedOnceTerminal()
"""The one instance the schema's types and fields declare."""


class FixedFields:
    """The types and fields one schema declares fixed, read from its declarations once."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.types: frozenset[str] = frozenset(
            name
            for name, named in schema.type_map.items()
            if declared(named, FixedOnceTerminal) is not None
        )
        self.fields: frozenset[tuple[str, str]] = frozenset(
            (name, field_name)
            for name, named in schema.type_map.items()
            for field_name, field in (getattr(named, "fields", None) or {}).items()
            if not name.startswith("__") and declared(field, FixedOnceTerminal) is not None
        )

    @classmethod
    def of(cls, schema: GraphQLSchema) -> FixedFields:
        """``schema``'s, read the first time they are asked for."""
        return read_once(schema, cls)

    def __contains__(self, field: tuple[str, str]) -> bool:
        return field[0] in self.types or field in self.fields


class _FixedFieldsOnly(Visitor):
    def __init__(self, type_info: TypeInfo, operation_name: str | None, fixed: FixedFields) -> None:
        super().__init__()
        self.type_info = type_info
        self.operation_name = operation_name
        self.fixed = fixed
        self.cacheable = True

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> object:
        name = node.name.value if node.name else None
        if self.operation_name is not None and name != self.operation_name:
            return self.SKIP
        if node.operation is not OperationType.QUERY:
            self.cacheable = False
            return self.BREAK
        return None

    def enter_field(self, node: FieldNode, *_: object) -> object:
        name = node.name.value
        if name == "__typename":
            return None
        parent = self.type_info.get_parent_type()
        named: GraphQLNamedType | None = get_named_type(parent) if parent else None
        if (named.name if named else "", name) in self.fixed:
            return None
        self.cacheable = False
        return self.BREAK


def is_cacheable(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> bool:
    """True when the operation selects only fields fixed once their executions are terminal.

    Fragments are followed where they are spread (the visitor walks their definitions too, with
    the type they apply to), so a field hidden in a fragment counts like any other.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None and len(operations) != 1:
        return False
    type_info = TypeInfo(schema)
    check = _FixedFieldsOnly(type_info, operation_name, FixedFields.of(schema))
    visit(document, TypeInfoVisitor(type_info, check))
    return check.cacheable
