"""The shape of one GraphQL operation, bounded before any resolver runs (``[limits]``).

Each bound refuses with ``BAD_USER_INPUT``, a message naming the limit and its value, and
``extensions.limit`` (the config key); nothing reaches an upstream. graphql-core's own parser
bounds tokens (the ``max_tokens`` parse option; we only word its error, reading the parser's
verdict) and ``NoSchemaIntrospectionCustomRule`` refuses introspection where it is off; document
size, depth, aliases and introspection fields are ours, walking each named fragment once.
``DocumentShape`` holds one config's bounds; the gate (gateway/gate/gate.py) applies them to every
operation, whichever transport carried it. The cost estimate is gateway/gate/cost.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
    parse,
)
from graphql.utilities import get_introspection_query
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules

from gateway.core.errors import GatewayError, limit_error
from gateway.gate.documents import DocumentCaches

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from graphql import (
        ASTValidationRule,
        DocumentNode,
        GraphQLSchema,
        SelectionSetNode,
        ValidationContext,
    )

    from gateway.config import LimitsConfig

__all__ = [
    "INTROSPECTION_FIELDS",
    "STANDARD_INTROSPECTION_DEPTH",
    "DocumentShape",
]

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
"""Fields that answer from the whole schema: bounded in number, costed, and counted in depth."""

_PARSER_STOPPED_AT = "Syntax Error: Document contains more than {} tokens. Parsing aborted."
"""graphql-core's words when a parse reaches its ``max_tokens`` bound."""


class DocumentShape:
    """One config's bounds on a document, as the gate applies them (gateway/gate/gate.py):
    its size before parsing, its tokens while parsing, its shape (depth, aliases, introspection)
    with the rest of validation.

    Parsing and validation are kept per text (``DocumentCaches``), and the schema's extension
    reads the same caches, so an admitted document is parsed and validated once.
    """

    def __init__(self, limits: LimitsConfig, *, introspection: bool = True) -> None:
        self.limits = limits
        self.caches = DocumentCaches(
            parsed=limits.parser_cache_size, validated=limits.validation_cache_size
        )
        rules: list[type[ASTValidationRule]] = [
            _shape_rule(limits.max_depth, limits.max_aliases, limits.max_introspection_fields)
        ]
        if not introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules: tuple[type[ASTValidationRule], ...] = (*specified_rules, *rules)
        """Every rule a document must pass: the specification's and the gateway's bounds."""

    def size_error(self, query: str) -> GatewayError | None:
        """A document over ``max_document_bytes``, refused before it is read."""
        size = len(query.encode("utf-8", "surrogatepass"))
        if size <= self.limits.max_document_bytes:
            return None
        return limit_error(
            "max_document_bytes", self.limits.max_document_bytes, f"The document is {size} bytes"
        )

    def parse(self, query: str) -> DocumentNode:
        """The document, parsed at most ``max_tokens`` deep into it (kept per text).

        Raises GatewayError: ``max_tokens`` past the bound, ``GRAPHQL_PARSE_FAILED`` for a
        syntax error (the code Apollo clients know).
        """
        try:
            document: DocumentNode = self.caches.parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLSyntaxError as error:
            if self._stopped_by_token_bound(error):
                raise self._token_error() from None
            raise GatewayError(
                error.message, "GRAPHQL_PARSE_FAILED", locations=_locations(error)
            ) from None
        return document

    def parse_again(self, query: str) -> DocumentNode:
        """``parse`` for the schema's own parsing step: the gate admitted this text, so this is
        a cache hit (or a parse with the same options, when the cache dropped it)."""
        parsed: DocumentNode = self.caches.parse(query, max_tokens=self.limits.max_tokens)
        return parsed

    def validation_errors(
        self, schema: GraphQLSchema, query: str, document: DocumentNode
    ) -> list[GraphQLError]:
        """The specification's rules and the gateway's bounds, kept per text: a bound keeps its
        ``BAD_USER_INPUT`` and ``limit``; any other failure is ``GRAPHQL_VALIDATION_FAILED``."""
        errors = self.caches.validate(query, document, schema, self.rules)
        for error in errors:
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
        return errors

    def _stopped_by_token_bound(self, error: GraphQLSyntaxError) -> bool:
        """Whether the parser stopped at the ``max_tokens`` bound rather than at a syntax error.

        The parser's own verdict, read from its error: it counts comments towards the bound,
        so a count of our own (graphql-core's public lexer skips comments) told a
        comment-padded document apart wrongly. ``scripts/compat`` runs the tests against each
        new graphql-core, so a change of its wording shows as a failing test.
        """
        return error.message == _PARSER_STOPPED_AT.format(self.limits.max_tokens)

    def _token_error(self) -> GatewayError:
        return limit_error(
            "max_tokens",
            self.limits.max_tokens,
            f"The document has more than {self.limits.max_tokens} tokens",
        )


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or ()]


def _shape_rule(max_depth: int, max_aliases: int, max_introspection: int) -> type[ValidationRule]:
    """Depth, aliases and introspection fields, each named fragment walked once.

    Depth and aliases are counted as strawberry's QueryDepthLimiter and MaxAliasesLimiter count
    them, but theirs walk a named fragment again at every spread (exponential in a document of
    fragments spreading the next one twice) and the depth walk raises KeyError (an INTERNAL
    error) on an unknown fragment. Introspection fields count in the depth like any other.
    """

    class ShapeLimit(ValidationRule):
        def refuse(self, error: GatewayError) -> None:
            """A bound, reported as a validation rule reports: a GraphQL error."""
            self.report_error(GraphQLError(error.message, extensions=dict(error.extensions)))

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            shape = _Shape(
                {
                    d.name.value: d
                    for d in document.definitions
                    if isinstance(d, FragmentDefinitionNode)
                }
            )
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            introspection_depth = max(max_depth, STANDARD_INTROSPECTION_DEPTH)
            for operation in operations:
                if shape.depth(operation.selection_set) > max_depth:
                    self.refuse(
                        limit_error(
                            "max_depth",
                            max_depth,
                            f"The operation nests fields more than {max_depth} deep",
                        )
                    )
                    break
                if shape.introspection_depth(operation.selection_set) > introspection_depth:
                    self.refuse(
                        limit_error(
                            "max_depth",
                            introspection_depth,
                            "The operation nests introspection fields more than "
                            f"{introspection_depth} deep (the standard introspection query's "
                            "depth, or max_depth if more)",
                        )
                    )
                    break
            aliases = sum(shape.aliases(o.selection_set) for o in operations)
            if aliases > max_aliases:
                self.refuse(
                    limit_error("max_aliases", max_aliases, f"The document uses {aliases} aliases")
                )
            introspection = sum(shape.introspection(o.selection_set) for o in operations)
            if introspection > max_introspection:
                self.refuse(
                    limit_error(
                        "max_introspection_fields",
                        max_introspection,
                        f"The document selects __schema or __type {introspection} times",
                    )
                )

    return ShapeLimit


def _standard_introspection_depth() -> int:
    document = parse(
        get_introspection_query(
            descriptions=True,
            specified_by_url=True,
            directive_is_repeatable=True,
            schema_description=True,
            input_value_deprecation=True,
        )
    )
    shape = _Shape(
        {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    )
    return max(
        shape.introspection_depth(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


class _Shape:
    """Depth and alias counts of selection sets, each named fragment worked out once."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self._depths: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._introspection: dict[str, int] = {}
        self._introspection_depths: dict[str, int] = {}
        self._full_depths: dict[str, int] = {}

    def depth(self, selection_set: SelectionSetNode) -> int:
        """Fields nested inside one another below here; a leaf counts 0, and an introspection
        field too (``introspection_depth`` bounds those)."""
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is None or selection.name.value.startswith("__"):
                    continue
                deepest = max(deepest, 1 + self.depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(
                    deepest, self._fragment(selection.name.value, self._depths, self.depth)
                )
        return deepest

    def aliases(self, selection_set: SelectionSetNode) -> int:
        """Aliased fields below here, counting a fragment at each of its spreads."""
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.alias is not None
                if selection.selection_set is not None:
                    count += self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection.name.value, self._aliases, self.aliases)
        return count

    def introspection_depth(self, selection_set: SelectionSetNode) -> int:
        """The deepest ``__schema`` or ``__type`` field below here, counting from this level."""
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in INTROSPECTION_FIELDS and selection.selection_set:
                    deepest = max(deepest, 1 + self._full_depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.introspection_depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(
                    deepest,
                    self._fragment(
                        selection.name.value, self._introspection_depths, self.introspection_depth
                    ),
                )
        return deepest

    def _full_depth(self, selection_set: SelectionSetNode) -> int:
        """Inside introspection, where every field counts."""
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is not None:
                    deepest = max(deepest, 1 + self._full_depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self._full_depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(
                    deepest,
                    self._fragment(selection.name.value, self._full_depths, self._full_depth),
                )
        return deepest

    def introspection(self, selection_set: SelectionSetNode) -> int:
        """``__schema`` and ``__type`` fields below here, counting a fragment at each spread."""
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.name.value in INTROSPECTION_FIELDS
            elif isinstance(selection, InlineFragmentNode):
                count += self.introspection(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(
                    selection.name.value, self._introspection, self.introspection
                )
        return count

    def _fragment(
        self, name: str, memo: dict[str, int], measure: Callable[[SelectionSetNode], int]
    ) -> int:
        if name not in memo:
            fragment = self.fragments.get(name)
            memo[name] = 0  # an unknown fragment or a cycle: validation reports those
            if fragment is not None:
                memo[name] = measure(fragment.selection_set)
        return memo[name]


STANDARD_INTROSPECTION_DEPTH = _standard_introspection_depth()
"""How deep graphql-core's full introspection query nests (14): introspection may nest this deep
even where ``max_depth`` is lower, and no deeper where it is not."""
