"""Which operations may have their whole answer cached: a check of the document, once per document.

An answer may be kept only if nothing in it can change once its executions are terminal. That is
a property of the fields the operation selects, so it is read from the document against the schema
(graphql-core's public ``TypeInfo`` visitor), never guessed from the answer: a query is cacheable
when it is a query, and every field it selects is a root field that reads executions by id, a field
of a type whose fields are all fixed once the execution is terminal, or a fixed field of a type
that also has live ones. Anything new (a field added later) is not cacheable until it is listed
here, so the cache can only err on the side of asking again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from graphql import DocumentNode, GraphQLSchema

__all__ = ["FIXED_FIELDS", "FIXED_TYPES", "is_cacheable"]

FIXED_TYPES = frozenset(
    {"Execution", "Step", "Approval", "Reviewer", "Cost", "Money", "Workflow", "Error", "Node"}
)
"""Types every field of which is fixed once the execution that holds it is terminal."""

FIXED_FIELDS: dict[str, frozenset[str]] = {
    "Query": frozenset({"execution", "executions", "node"}),
    "Source": frozenset({"name", "kind", "capabilities"}),
}
"""Types with live fields too (counters, health, lists that grow): only these fields are fixed."""


class _FixedFieldsOnly(Visitor):
    def __init__(self, type_info: TypeInfo, operation_name: str | None) -> None:
        super().__init__()
        self.type_info = type_info
        self.operation_name = operation_name
        self.cacheable = True
        self._in_operation = False

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
        type_name = named.name if named else None
        if type_name in FIXED_TYPES or name in FIXED_FIELDS.get(type_name or "", ()):
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
    check = _FixedFieldsOnly(type_info, operation_name)
    visit(document, TypeInfoVisitor(type_info, check))
    return check.cacheable
