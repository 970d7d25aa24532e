"""Who may run a root field: declared on the field itself, read by the gate.

A root field that needs a role says so with ``@requiresRole(role: "...")`` (``RequiresRole`` in
its ``directives``); the schema exports the directive, so a client can read the rule too. A
query or subscription field without one needs ``viewer``; a mutation without one needs none of
its own (the decision mutations answer a caller without ``approver`` in their result union).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, OperationType
from strawberry.schema_directive import Location

from gateway.core.caller import VIEWER
from gateway.gate.declared import declared

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from graphql import (
        FragmentDefinitionNode,
        GraphQLField,
        GraphQLObjectType,
        OperationDefinitionNode,
        SelectionSetNode,
    )

__all__ = ["RequiresRole", "declared_role", "missing_role"]


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The role a client must hold to select this root field (checked before the "
    "operation runs, on every transport).",
)
class RequiresRole:
    role: str


_DEFAULT_ROLES = {OperationType.QUERY: VIEWER, OperationType.SUBSCRIPTION: VIEWER}
_DECLARED: weakref.WeakKeyDictionary[GraphQLObjectType, dict[str, str | None]] = (
    weakref.WeakKeyDictionary()
)
"""Each root type's fields' declared roles, read on first use: not per request."""


def declared_role(field: GraphQLField) -> str | None:
    """The role ``field`` declares with ``@requiresRole``, if any."""
    found = declared(field, RequiresRole)
    return found.role if found is not None else None


def missing_role(
    roles: frozenset[str],
    operation: OperationDefinitionNode,
    root: GraphQLObjectType,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> tuple[str, str] | None:
    """The first root field the operation selects whose role ``roles`` lacks, with that role."""
    default = _DEFAULT_ROLES.get(operation.operation)
    declared_roles = _DECLARED.get(root)
    if declared_roles is None:
        declared_roles = {name: declared_role(field) for name, field in root.fields.items()}
        _DECLARED[root] = declared_roles
    for name in _root_fields(operation.selection_set, fragments, set()):
        role = declared_roles.get(name) or default
        if role is not None and role not in roles:
            return name, role
    return None


def _root_fields(
    selections: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[str]:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value  # __typename too: a query reads, whatever it selects
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen.add(name)
                yield from _root_fields(fragment.selection_set, fragments, seen)
