"""Bounds on one GraphQL operation, checked before any resolver runs (``[limits]`` in the config).

Each limit refuses with ``BAD_USER_INPUT``, a message naming the limit and its value, and
``extensions.limit`` (the config key); nothing reaches an upstream. graphql-core's own parser
bounds tokens (the ``max_tokens`` parse option; we only word its error) and
``NoSchemaIntrospectionCustomRule`` refuses introspection where it is off; document size, depth,
aliases, introspection fields and the cost estimate are ours, walking each named fragment once.
``DocumentLimits`` holds one config's limits; the gate (gateway/gate/gate.py) applies them to
every operation, whichever transport carried it. ``executions(ids:)`` checks ``limits.max_ids``
in its resolver.

The estimate counts the upstream calls an operation may cause: each field that may load an
execution (returning ``Execution`` or ``Node``, except ``Step.execution``) costs 1, and every list
multiplies what is nested in it (by the number of ``ids``, by ``first``/``last`` or their
defaults, else by ``ASSUMED_FANOUT``); a listing field adds its own calls (``executionFeed`` one
list per listing source, ``pendingApprovals`` a list and a page of loads per approval source, a
decision ``DECISION_CALLS``). ``cost`` is those calls plus ``INTROSPECTION_COST`` per
``__schema``/``__type``. The walk runs after validation, with the request's variables. What the
operation then really calls is bounded as it runs (``CallBudget``, queries only).
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    Undefined,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    parse,
)
from graphql.utilities import get_introspection_query, get_operation_ast
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules

from adapters.base import Capability
from gateway.core.errors import GatewayError, bad_user_input
from gateway.core.feed import MAX_FIRST
from gateway.core.pending import UPSTREAM_PAGE_SIZE
from gateway.gate.documents import DocumentCaches

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping

    from graphql import (
        ASTValidationRule,
        DocumentNode,
        GraphQLArgument,
        GraphQLCompositeType,
        GraphQLField,
        GraphQLSchema,
        SelectionSetNode,
        ValidationContext,
        ValueNode,
    )

    from gateway.config import LimitsConfig

__all__ = [
    "ASSUMED_FANOUT",
    "COST_CACHE_DOCUMENT_BYTES",
    "COST_CACHE_SIZE",
    "DECISION_CALLS",
    "INTROSPECTION_COST",
    "INTROSPECTION_FIELDS",
    "LOADED_TYPES",
    "DocumentLimits",
    "Estimate",
    "Sources",
    "cost_key",
    "estimate_cost",
    "limit_error",
]

ASSUMED_FANOUT = 10
"""What a list without ``ids`` or ``first`` (``children``, ``steps``, ``approvals``) is assumed to hold."""
LOADED_TYPES = frozenset({"Execution", "Node", "_Entity"})
"""Fields returning these may load an execution from an upstream, so they cost 1 each."""
DECISION_CALLS = 3
"""A decision's upstream calls: the execution read, the decision sent, the execution read again."""
RUN_CONTROL_FIELDS = ("startExecution", "cancelExecution", "rerunExecution")
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
"""Fields that answer from the whole schema: bounded in number, costed, and counted in depth."""
INTROSPECTION_COST = 100
"""What one introspection field adds to ``cost``: no upstream call, but a large answer to build."""
_BACK_REFERENCES = frozenset({("Step", "execution")})
"""Fields that return the execution they were loaded with: free. (An approval from a listing may
need its execution loaded, so ``Approval.execution`` counts.)"""
_PAGE_ARGUMENTS = ("first", "last")
_SIZED_BY = ("ids", "representations", "decisions")
"""List arguments whose length is the list's: ``executions(ids:)``, a supergraph's
``_entities(representations:)`` (docs/federation.md), ``decideMany(decisions:)``."""
_PAGE_LISTS = frozenset({"edges", "nodes"})
"""Lists inside a paged field, whose length its ``first``/``last`` already counted."""


_PARSER_STOPPED_AT = "Syntax Error: Document contains more than {} tokens. Parsing aborted."
"""graphql-core's words when a parse reaches its ``max_tokens`` bound."""


class _PageOutOfBounds(Exception):
    """A ``first`` or ``last`` outside 1..``MAX_FIRST``: the operation is refused for that."""


def limit_error(key: str, allowed: int, message: str) -> GatewayError:
    """The refusal for ``limits.<key>``: BAD_USER_INPUT naming the limit and its value."""
    return GatewayError(
        f"{message}; this gateway accepts at most {allowed} (limits.{key}).",
        "BAD_USER_INPUT",
        limit=key,
        allowed=allowed,
    )


@dataclass(frozen=True, slots=True)
class Sources:
    """How many configured sources each listing field walks (its calls scale with them)."""

    listing: int = 4
    approving: int = 4

    @classmethod
    def of(cls, context: object) -> Sources:
        """The request context's runtime's sources; the four kinds' worst case without one.

        Counted once per runtime (its sources are fixed once it is built).
        """
        runtime = getattr(context, "runtime", None)
        if runtime is None:
            return cls()
        try:
            return _SOURCES_OF_RUNTIME[runtime]
        except (KeyError, TypeError):  # TypeError: a runtime that takes no weak reference
            pass
        adapters = getattr(runtime, "adapters", None)
        if not adapters:  # not started yet: nothing to keep
            return cls()
        capabilities = [adapter.capabilities for adapter in adapters.values()]
        sources = cls(
            listing=sum(Capability.LIST in c for c in capabilities),
            approving=sum(Capability.APPROVE in c for c in capabilities),
        )
        with contextlib.suppress(TypeError):
            _SOURCES_OF_RUNTIME[runtime] = sources
        return sources

    def own_calls(self, parent: str, field: str, items: int = 1) -> int:
        """Calls a field makes itself, however many of its items are then selected (``items``:
        how many a list argument names, ``decideMany``'s decisions)."""
        if parent == "Query":
            if field == "executionFeed":
                return self.listing
            if field == "pendingApprovals":
                return self.approving * (1 + UPSTREAM_PAGE_SIZE)
        elif parent == "Mutation" and field in ("approve", "reject", *RUN_CONTROL_FIELDS):
            return DECISION_CALLS  # run control too: a read, the write, a read
        elif parent == "Mutation" and field == "decideMany":
            return DECISION_CALLS * items
        return 0


@dataclass(frozen=True, slots=True)
class Estimate:
    calls: int
    """Upstream calls the operation may cause."""
    introspection: int
    """``__schema`` and ``__type`` fields it selects."""

    @property
    def cost(self) -> int:
        return self.calls + INTROSPECTION_COST * self.introspection

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.calls + other.calls, self.introspection + other.introspection)

    def times(self, count: int) -> Estimate:
        return Estimate(self.calls * count, self.introspection * count)


_NOTHING = Estimate(0, 0)
_SOURCES_OF_RUNTIME: weakref.WeakKeyDictionary[object, Sources] = weakref.WeakKeyDictionary()


class DocumentLimits:
    """One config's bounds on a document, as the gate applies them (gateway/gate/gate.py):
    its size before parsing, its tokens while parsing, its shape (depth, aliases, introspection)
    with the rest of validation, and its estimated cost before execution.

    Parsing and validation are kept per text (``DocumentCaches``), and the schema's extension
    reads the same caches, so an admitted document is parsed and validated once. Estimates are
    kept per document text, operation and variable shape (``cost_key``): frontends send the
    same few documents, and the walk was 3 % of a one-execution request's CPU.
    """

    def __init__(self, limits: LimitsConfig, *, introspection: bool = True) -> None:
        self.limits = limits
        self.caches = DocumentCaches(
            parsed=limits.parser_cache_size, validated=limits.validation_cache_size
        )
        self._estimates: LRUCache[Hashable, Estimate] = LRUCache(maxsize=COST_CACHE_SIZE)
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

    def cost_error(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
        sources: Sources,
    ) -> GatewayError | None:
        """An operation over ``max_cost`` or ``max_upstream_calls``, refused before it runs."""
        key = cost_key(query, operation_name, variables, sources)
        estimate = self._estimates.get(key) if key is not None else None
        if estimate is None:
            try:
                estimate = estimate_cost(schema, document, operation_name, variables, sources)
            except _PageOutOfBounds as out_of_bounds:
                return bad_user_input(str(out_of_bounds))
            if key is not None:
                self._estimates[key] = estimate
        if estimate.cost > self.limits.max_cost:
            return limit_error(
                "max_cost",
                self.limits.max_cost,
                f"The operation's estimated cost is {estimate.cost} (each upstream call counts 1, "
                f"each introspection field {INTROSPECTION_COST}; ids, first/last, or else "
                f"{ASSUMED_FANOUT} per list, multiply what is nested in a list)",
            )
        if estimate.calls > self.limits.max_upstream_calls:
            return limit_error(
                "max_upstream_calls",
                self.limits.max_upstream_calls,
                f"The operation may make {estimate.calls} upstream calls",
            )
        return None

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


COST_CACHE_SIZE = 512
"""Estimates kept (documents up to ``COST_CACHE_DOCUMENT_BYTES``): a few hundred KiB at most."""
COST_CACHE_DOCUMENT_BYTES = 8 * 1024


def cost_key(
    query: str | None, operation_name: str | None, variables: Mapping[str, Any], sources: Sources
) -> Hashable | None:
    """What ``estimate_cost`` reads of a request besides the schema, or None not to keep it.

    The walk reads variables only as list lengths (``ids``) and integers (``first``/``last``),
    so a variable's shape is its length, its integer, or its type: requests that differ only in
    the ids they ask share one estimate.
    """
    if query is None or len(query) > COST_CACHE_DOCUMENT_BYTES:
        return None
    shape = tuple((name, _cost_shape(value)) for name, value in sorted(variables.items()))
    return (query, operation_name, shape, sources)


def _cost_shape(value: object) -> object:
    """What the cost walk can tell of one variable: a list's length, an integer, else its type."""
    if isinstance(value, list):
        return ("list", len(value))
    if isinstance(value, int) or value is None:
        return value
    return type(value).__name__


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    sources: Sources | None = None,
) -> Estimate:
    """The most upstream calls (and introspection fields) the chosen operation of a valid
    ``document`` could cause."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return _NOTHING
    root = schema.get_root_type(operation.operation)
    if root is None:
        return _NOTHING
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults = {
        v.variable.name.value: v.default_value for v in operation.variable_definitions or ()
    }
    walk = _CostWalk(schema, fragments, variables, defaults, sources or Sources())
    return walk.selection_set(operation.selection_set, root, page_counted=False, seen=frozenset())


class _CostWalk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        defaults: Mapping[str, ValueNode | None],
        sources: Sources,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.sources = sources
        self._fragment_costs: dict[tuple[str, str, bool], Estimate] = {}

    def selection_set(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLCompositeType,
        *,
        page_counted: bool,
        seen: frozenset[str],
    ) -> Estimate:
        total = _NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page_counted=page_counted, seen=seen)
            elif isinstance(selection, InlineFragmentNode):
                inner = self._type_condition(selection, parent)
                total += self.selection_set(
                    selection.selection_set, inner, page_counted=page_counted, seen=seen
                )
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, parent, page_counted, seen)
        return total

    def _fragment(
        self, name: str, parent: GraphQLCompositeType, page_counted: bool, seen: frozenset[str]
    ) -> Estimate:
        """A named fragment's cost, worked out once per place it can appear (not per spread)."""
        key = (name, parent.name, page_counted)
        if key not in self._fragment_costs:
            fragment = self.fragments.get(name)
            if fragment is None or name in seen:  # validation reports these
                return _NOTHING
            inner = self._type_condition(fragment, parent)
            self._fragment_costs[key] = self.selection_set(
                fragment.selection_set, inner, page_counted=page_counted, seen=seen | {name}
            )
        return self._fragment_costs[key]

    def field(
        self,
        node: FieldNode,
        parent: GraphQLCompositeType,
        *,
        page_counted: bool,
        seen: frozenset[str],
    ) -> Estimate:
        name = node.name.value
        if name in INTROSPECTION_FIELDS:
            return Estimate(0, 1)
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return _NOTHING
        definition = fields[name]
        decisions = next(
            (a.value for a in node.arguments or () if a.name.value == "decisions"), None
        )
        items = self._length(decisions) if decisions is not None else 1
        own = Estimate(self.sources.own_calls(parent.name, name, items), 0)
        named = get_named_type(definition.type)
        if not is_composite_type(named) or node.selection_set is None:
            return own
        base = int(named.name in LOADED_TYPES and (parent.name, name) not in _BACK_REFERENCES)
        multiplier, paged = self._multiplier(node, definition, page_counted=page_counted)
        nested = self.selection_set(
            node.selection_set,
            named,
            page_counted=paged,
            seen=seen,
        )
        return own + (Estimate(base, 0) + nested).times(multiplier)

    def _multiplier(
        self, node: FieldNode, definition: GraphQLField, *, page_counted: bool
    ) -> tuple[int, bool]:
        """How many times the field's selection runs, and whether that counted a page."""
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        for sized in _SIZED_BY:
            if sized in arguments:
                return self._length(arguments[sized]), False
        for page in _PAGE_ARGUMENTS:
            if page in arguments:
                value = self._value(arguments[page])
            elif page in definition.args:
                value = self._default(definition.args[page])
            else:
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                if not 1 <= value <= MAX_FIRST:
                    # The argument's own bound speaks first: "1003 upstream calls" for a
                    # first of 1000 named the effect, not the cause.
                    raise _PageOutOfBounds(
                        f"{page}: must be between 1 and {MAX_FIRST}, got {value}"
                    )
                return value, True
        if is_list_type(get_nullable_type(definition.type)):
            if page_counted and node.name.value in _PAGE_LISTS:
                return 1, False
            return ASSUMED_FANOUT, False
        return 1, page_counted and node.name.value not in _PAGE_LISTS

    def _default(self, argument: GraphQLArgument) -> Any:
        """An argument's default: a value in code-first schemas, only an AST in SDL-built ones."""
        if argument.default_value is not Undefined:
            return argument.default_value
        ast = argument.ast_node.default_value if argument.ast_node else None
        return None if ast is None else self._value(ast)

    def _length(self, value: ValueNode) -> int:
        if isinstance(value, ListValueNode):
            return len(value.values)
        if isinstance(value, NullValueNode):
            return 0
        resolved = self._value(value)
        if isinstance(resolved, list):
            return len(resolved)
        return 0 if resolved is None else 1  # one value is coerced to a list of one

    def _value(self, value: ValueNode) -> Any:
        if isinstance(value, VariableNode):
            name = value.name.value
            if name in self.variables:
                return self.variables[name]
            default = self.defaults.get(name)
            return None if default is None else self._value(default)
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, ListValueNode):
            return [self._value(v) for v in value.values]
        return getattr(value, "value", None)

    def _type_condition(
        self, node: InlineFragmentNode | FragmentDefinitionNode, parent: GraphQLCompositeType
    ) -> GraphQLCompositeType:
        if node.type_condition is None:
            return parent
        named = self.schema.get_type(node.type_condition.name.value)
        return named if is_composite_type(named) else parent


def _shape_rule(max_depth: int, max_aliases: int, max_introspection: int) -> type[ValidationRule]:
    """Depth, aliases and introspection fields, each named fragment walked once.

    Depth and aliases are counted as strawberry's QueryDepthLimiter and MaxAliasesLimiter count
    them, but theirs walk a named fragment again at every spread (exponential in a document of
    fragments spreading the next one twice) and the depth walk raises KeyError (an INTERNAL
    error) on an unknown fragment. Introspection fields count in the depth like any other.
    """

    class ShapeLimit(ValidationRule):
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
                    self.report_error(
                        limit_error(
                            "max_depth",
                            max_depth,
                            f"The operation nests fields more than {max_depth} deep",
                        )
                    )
                    break
                if shape.introspection_depth(operation.selection_set) > introspection_depth:
                    self.report_error(
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
                self.report_error(
                    limit_error("max_aliases", max_aliases, f"The document uses {aliases} aliases")
                )
            introspection = sum(shape.introspection(o.selection_set) for o in operations)
            if introspection > max_introspection:
                self.report_error(
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
