"""Parsed documents by their text, and validation results by text and rules.

Stock strawberry parses and validates every request. Here both are kept: one text parses to one
document (the parse options are the schema's), so the text stands for it. Validation is keyed by
the text, not by the document as strawberry's ``ValidationCache`` is: graphql-core's AST nodes are
frozen dataclasses, so hashing a document walks the whole tree on every request.

``validate_document`` is strawberry's (it adds its own rules to the ones asked for); it lives in
an internal module, hence here.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from graphql import parse
from strawberry.schema.schema import validate_document

if TYPE_CHECKING:
    from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema

__all__ = ["DocumentCaches"]

_Rules = tuple[type["ASTValidationRule"], ...]


class DocumentCaches:
    def __init__(self, *, parsed: int, validated: int) -> None:
        self.parse: Any = functools.lru_cache(maxsize=parsed)(parse)
        """``parse(text, **options)``: raises GraphQLSyntaxError, which is not cached."""
        self._validated: LRUCache[tuple[str, _Rules], list[GraphQLError]] = LRUCache(validated)

    def validate(
        self, query: str, document: DocumentNode, schema: GraphQLSchema, rules: _Rules
    ) -> list[GraphQLError]:
        key = (query, rules)
        errors = self._validated.get(key)
        if errors is None:
            errors = self._validated[key] = validate_document(schema, document, rules)
        return list(errors)  # a copy: a request may reword its errors in place
