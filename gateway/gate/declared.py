"""What a schema declares on its types and fields with schema directives, read back as the
directive's own Python object.

A code-first schema (strawberry) keeps each directive object on the type's or field's
definition (``extensions["strawberry-definition"]``); a schema built from SDL (``schema.graphql``,
the answer cache's copy, a test's) keeps them in its AST, where they are read with graphql-core's
``value_from_ast_untyped`` into the same class. Either way the reader gets one object, or None.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import value_from_ast_untyped
from strawberry.utils.str_converters import to_camel_case

if TYPE_CHECKING:
    from collections.abc import Callable

    from graphql import GraphQLField, GraphQLNamedType, GraphQLSchema

__all__ = ["declared", "directive_name", "read_once"]

_D = TypeVar("_D")
_T = TypeVar("_T")
_READ: weakref.WeakKeyDictionary[GraphQLSchema, dict[object, Any]] = weakref.WeakKeyDictionary()


def read_once(schema: GraphQLSchema, read: Callable[[GraphQLSchema], _T]) -> _T:
    """``read(schema)``, computed the first time it is asked for (at start-up) and kept with the
    schema: what a schema declares is read once, never per request."""
    kept = _READ.setdefault(schema, {})
    if read not in kept:
        kept[read] = read(schema)
    found: _T = kept[read]
    return found


def directive_name(directive: type[Any]) -> str:
    """The name a strawberry schema directive class has in the SDL (``RequiresRole``:
    ``requiresRole``, unless it names itself)."""
    definition = directive.__strawberry_directive__
    name: str = definition.graphql_name or to_camel_case(definition.python_name)
    return name[:1].lower() + name[1:]


def declared(element: GraphQLNamedType | GraphQLField, directive: type[_D]) -> _D | None:
    """The ``directive`` that ``element`` (a type or a field) declares, or None."""
    definition = (element.extensions or {}).get("strawberry-definition")
    for found in getattr(definition, "directives", None) or ():
        if isinstance(found, directive):
            return found
    name = directive_name(directive)
    for node in getattr(element.ast_node, "directives", None) or ():
        if node.name.value == name:
            arguments = {to_camel_case(f.name): f.name for f in dataclasses.fields(directive)}  # type: ignore[arg-type]
            values = {
                arguments.get(argument.name.value, argument.name.value): value_from_ast_untyped(
                    argument.value
                )
                for argument in node.arguments or ()
            }
            return directive(**values)
    return None
