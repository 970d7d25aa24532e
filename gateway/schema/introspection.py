"""Introspection answered once: the schema does not change while the process runs.

An operation that selects only ``__schema``, ``__type`` and ``__typename`` at its root answers the
same for every caller, so its result (data without errors) is kept by the operation's text, name
and variables, and later requests get it without executing. A client's introspection query
(GraphiQL's, a code generator's) is one of a handful of texts, so a few entries serve them all;
how many introspection fields one document may select is bounded by
``limits.max_introspection_fields`` (gateway/gate/shape.py), so a new text costs one build.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
)
from graphql.utilities import get_operation_ast

if TYPE_CHECKING:
    from collections.abc import Mapping

    from graphql import DocumentNode, SelectionSetNode
    from strawberry.types import ExecutionContext

__all__ = ["IntrospectionAnswers", "is_introspection_only"]

_ROOT_INTROSPECTION = frozenset({"__schema", "__type", "__typename"})
_Key = tuple[str, str | None, str]


class IntrospectionAnswers:
    def __init__(self, entries: int = 16) -> None:
        self._answers: LRUCache[_Key, dict[str, Any]] = LRUCache(entries)
        self.built = 0
        """Introspection results computed (not served from here): what tests count."""

    def answer(self, context: ExecutionContext) -> None:
        """Before execution: a kept answer stands in for executing the operation."""
        key = self._key(context)
        if key is not None and context.result is None:
            data = self._answers.get(key)
            if data is not None:
                context.result = ExecutionResult(data=data)

    def keep(self, context: ExecutionContext) -> None:
        """After execution: keep a fresh introspection answer that has no error."""
        key = self._key(context)
        result = context.result
        if key is None or key in self._answers or result is None:
            return
        data = getattr(result, "data", None)
        if isinstance(data, dict) and not getattr(result, "errors", None):
            self._answers[key] = data
            self.built += 1

    def _key(self, context: ExecutionContext) -> _Key | None:
        document = context.graphql_document
        if document is None or context.query is None:
            return None
        if not is_introspection_only(document, context.operation_name):
            return None
        try:
            variables = json.dumps(context.variables or {}, sort_keys=True)
        except (TypeError, ValueError):
            return None
        return (context.query, context.operation_name, variables)


def is_introspection_only(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the chosen operation selects nothing but introspection at its root."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _RootWalk(fragments).only_introspection(operation.selection_set)


class _RootWalk:
    """Each named fragment judged once (a document of fragments spreading the next one twice
    would otherwise take exponential time)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self._judged: dict[str, bool] = {}

    def only_introspection(self, selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value not in _ROOT_INTROSPECTION:
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not self.only_introspection(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode) and not self._fragment(
                selection.name.value
            ):
                return False
        return True

    def _fragment(self, name: str) -> bool:
        if name not in self._judged:
            fragment = self.fragments.get(name)
            self._judged[name] = False  # unknown or cyclic: validation reports those
            if fragment is not None:
                self._judged[name] = self.only_introspection(fragment.selection_set)
        return self._judged[name]
