"""The schema's one extension: everything the gateway does around an operation, in one set of hooks.

strawberry runs every extension's hooks through its own machinery (a hook lookup, a context
manager and an exit stack per extension and phase), about 15 µs per extension per request
whatever the extension does; the five small extensions this replaces were about 70 µs of a
0.7 ms cached request. It calls the parts in the order those five ran:

- ``gateway.ops.observe.OperationRecording``: the request record's operation name, errors, execution;
- ``gateway.schema.limits.OperationLimits``: document size, token bound, validation rules, cost;
- the parse and validation caches (``DocumentCaches``);
- ``gateway.schema.extra_errors``: resolvers' non-fatal errors, after execution.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from graphql import GraphQLSyntaxError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gateway.ops.observe import OperationRecording
from gateway.schema.extra_errors import merge_extra_errors

if TYPE_CHECKING:
    from collections.abc import Iterator

    from graphql import ASTValidationRule, DocumentNode, GraphQLError

    from gateway.schema.limits import OperationLimits

__all__ = ["DocumentCaches", "GatewayOperation"]

_Rules = tuple[type["ASTValidationRule"], ...]


class DocumentCaches:
    """Parsed documents by their text, and validation results by text and rules.

    Validation is keyed by the text, not by the document as strawberry's ``ValidationCache`` is:
    graphql-core's AST nodes are frozen dataclasses, so hashing a document walks the whole tree
    on every request. One text parses to one document (the parse options are the schema's), so
    the text stands for it.
    """

    def __init__(self, *, parsed: int, validated: int) -> None:
        self.parse: Any = functools.lru_cache(maxsize=parsed)(parse)
        """``parse(text, **options)``: raises GraphQLSyntaxError, which is not cached."""
        self._validated: LRUCache[tuple[str, _Rules], list[GraphQLError]] = LRUCache(validated)

    def validate(
        self, query: str, document: DocumentNode, schema: Any, rules: _Rules
    ) -> list[GraphQLError]:
        key = (query, rules)
        errors = self._validated.get(key)
        if errors is None:
            errors = self._validated[key] = validate_document(schema, document, rules)
        return list(errors)  # a copy: a request may reword its errors in place


class GatewayOperation(SchemaExtension):
    def __init__(self, limits: OperationLimits, caches: DocumentCaches) -> None:
        super().__init__()
        self._limits = limits
        self._caches = caches
        self._recording: OperationRecording | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        recording = self._recording = OperationRecording(context)
        try:
            self._limits.admit(context)
            try:
                yield
            except GraphQLSyntaxError as syntax_error:
                reworded = self._limits.reword_syntax_error(syntax_error)
                if reworded is syntax_error:
                    raise
                raise reworded from None
            self._limits.reword_parse_errors(context)
        except BaseException:
            recording.failed()
            raise
        finally:
            recording.ended()

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            context.graphql_document = self._caches.parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.query is not None and context.validation_rules:
            context.pre_execution_errors = self._caches.validate(
                context.query, document, context.schema._schema, context.validation_rules
            )
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if self._recording is not None:
            self._recording.executing()
        self._limits.check_cost(context)
        yield
        merge_extra_errors(context)
