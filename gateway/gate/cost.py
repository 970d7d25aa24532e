"""The cost estimate: the upstream calls an operation may cause, read from what the schema
declares on its fields, and ``limits.max_cost`` / ``max_upstream_calls`` applied to it.

What a field costs is declared on it (or on its type) with three schema directives, exported in
the SDL so a client can read the rules too:

- ``@cost(upstreamCalls: n)`` on a type: each field returning it may load it, ``n`` calls per item
  (``Execution``, ``Node``); on a field, what that field costs per item instead of its type's
  (``Step.execution``, the execution it was loaded with: 0; ``_entities``: 1).
- ``@fixedCost(upstreamCalls: n, perSource: CAPABILITY)``: calls the field makes itself, once
  however much is selected below it: times the configured sources with that capability when
  ``perSource`` is given, times the items of its ``sizedBy`` list when it has one (a decision:
  the read, the write, the read again).
- ``@listSize(sizedBy: "ids" | slicingArguments: ["first"] | pageItems: true)``: how many items
  a list holds: the length of an argument, the value of ``first``/``last`` (1..``MAX_FIRST``, its
  default when absent), or, for ``edges``/``nodes`` inside a page, the page already counted.

Every other list multiplies what is nested in it by ``ASSUMED_FANOUT``. ``cost`` is the calls
plus ``INTROSPECTION_COST`` per ``__schema``/``__type`` (graphql-core's fields, which carry no
directive). The declarations are read once per schema into a table (``CostTable.of``); the walk
runs after validation, with the request's variables, and its estimates are kept per document,
operation and variable shape (``cost_key``). What the operation then really calls is bounded as
it runs (``CallBudget``, queries only).
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry
from cachetools import LRUCache
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    Undefined,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)
from graphql.utilities import get_operation_ast
from strawberry import UNSET
from strawberry.schema_directive import Location

from adapters.base import Capability
from gateway.core.errors import GatewayError, bad_user_input, limit_error
from gateway.core.feed import MAX_FIRST
from gateway.gate.declared import declared, read_once
from gateway.gate.shape import INTROSPECTION_FIELDS

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from graphql import (
        DocumentNode,
        GraphQLArgument,
        GraphQLCompositeType,
        GraphQLField,
        GraphQLSchema,
        SelectionSetNode,
        ValueNode,
    )

    from gateway.config import LimitsConfig

__all__ = [
    "ASSUMED_FANOUT",
    "COST_CACHE_DOCUMENT_BYTES",
    "COST_CACHE_SIZE",
    "INTROSPECTION_COST",
    "CallCost",
    "CostLimit",
    "CostTable",
    "Estimate",
    "FieldCost",
    "FixedCost",
    "ListSize",
    "Sources",
    "cost_key",
    "estimate_cost",
]

ASSUMED_FANOUT = 10
"""What a list without a declared size (``children``, ``steps``, ``approvals``) is assumed to hold."""
INTROSPECTION_COST = 100
"""What one introspection field adds to ``cost``: no upstream call, but a large answer to build."""
COST_CACHE_SIZE = 512
"""Estimates kept (documents up to ``COST_CACHE_DOCUMENT_BYTES``): a few hundred KiB at most."""
COST_CACHE_DOCUMENT_BYTES = 8 * 1024

_TYPE_OR_FIELD = [Location.OBJECT, Location.INTERFACE, Location.FIELD_DEFINITION]


@strawberry.schema_directive(
    name="cost",
    locations=_TYPE_OR_FIELD,
    description="Upstream calls per item: on a type, what a field returning it may cost to load "
    "it; on a field, what that field costs instead (the gateway's cost estimate, limits.max_cost).",
)
class CallCost:
    upstream_calls: int


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="Upstream calls the field makes itself, once whatever is selected below it: "
    "times the configured sources with the capability `perSource`, times the items of its "
    "@listSize(sizedBy:) argument.",
)
class FixedCost:
    upstream_calls: int
    per_source: Capability | None = UNSET


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="How many items the list the field returns holds, for the cost estimate: the "
    "length of the argument `sizedBy`, the value of one of `slicingArguments`, or (`pageItems`) "
    "the items of the page around it, already counted. Any other list counts 10.",
)
class ListSize:
    sized_by: str | None = UNSET
    slicing_arguments: list[str] | None = UNSET
    page_items: bool | None = UNSET


@dataclass(frozen=True, slots=True)
class FieldCost:
    """What one field declares, as the walk reads it."""

    loads: int = 0
    """Calls per item it returns (its ``@cost``, else its type's)."""
    fixed: int = 0
    per_source: Capability | None = None
    sized_by: str | None = None
    slicing: tuple[str, ...] = ()
    page_items: bool = False

    def own_calls(self, sources: Sources, items: int = 1) -> int:
        """Calls the field makes itself, however many of its items are then selected
        (``items``: how many its ``sized_by`` argument names)."""
        calls = self.fixed * items
        return calls * sources.having(self.per_source) if self.per_source else calls


_FREE = FieldCost()


class CostTable:
    """Every field's ``FieldCost`` in one schema, read from its declarations once."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.fields: dict[tuple[str, str], FieldCost] = {}
        for named in schema.type_map.values():
            fields = getattr(named, "fields", None)
            if named.name.startswith("__") or not fields or not is_composite_type(named):
                continue
            for name, field in fields.items():
                cost = _field_cost(field)
                if cost != _FREE:
                    self.fields[named.name, name] = cost

    @classmethod
    def of(cls, schema: GraphQLSchema) -> CostTable:
        """``schema``'s table, built the first time it is asked for (at start-up)."""
        return read_once(schema, cls)

    def field(self, parent: str, name: str) -> FieldCost:
        return self.fields.get((parent, name), _FREE)


def _field_cost(field: GraphQLField) -> FieldCost:
    own = declared(field, CallCost)
    if own is None:
        own = declared(get_named_type(field.type), CallCost)
    fixed = declared(field, FixedCost)
    size = declared(field, ListSize)
    per_source = fixed.per_source if fixed and fixed.per_source else None
    if per_source is not None:
        per_source = Capability(per_source)  # an SDL schema's value is the enum's name
        Sources().having(per_source)  # a capability the sources are not counted by: now
    return FieldCost(
        loads=own.upstream_calls if own else 0,
        fixed=fixed.upstream_calls if fixed else 0,
        per_source=per_source,
        sized_by=size.sized_by if size and size.sized_by else None,
        slicing=tuple(size.slicing_arguments or ()) if size else (),
        page_items=bool(size and size.page_items),
    )


@dataclass(frozen=True, slots=True)
class Sources:
    """How many configured sources have each capability a ``perSource`` cost counts."""

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

    def having(self, capability: Capability) -> int:
        """The sources with ``capability``; ValueError for one they are not counted by."""
        if capability is Capability.LIST:
            return self.listing
        if capability is Capability.APPROVE:
            return self.approving
        raise ValueError(f"sources are not counted by {capability.value}: count them in Sources")


_SOURCES_OF_RUNTIME: weakref.WeakKeyDictionary[object, Sources] = weakref.WeakKeyDictionary()


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


class _PageOutOfBounds(Exception):
    """A ``first`` or ``last`` outside 1..``MAX_FIRST``: the operation is refused for that."""


class CostLimit:
    """``limits.max_cost`` and ``max_upstream_calls``, applied to each operation's estimate.

    Estimates are kept per document text, operation and variable shape (``cost_key``):
    frontends send the same few documents, and the walk was 3 % of a one-execution request's CPU.
    """

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits
        self._estimates: LRUCache[Hashable, Estimate] = LRUCache(maxsize=COST_CACHE_SIZE)

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
        self.table = CostTable.of(schema)
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
        cost = self.table.field(parent.name, name)
        items = 1
        if cost.sized_by is not None:
            sized = next(
                (a.value for a in node.arguments or () if a.name.value == cost.sized_by), None
            )
            items = self._length(sized) if sized is not None else 1
        own = Estimate(cost.own_calls(self.sources, items), 0)
        named = get_named_type(definition.type)
        if not is_composite_type(named) or node.selection_set is None:
            return own
        multiplier, paged = self._multiplier(node, definition, cost, page_counted=page_counted)
        nested = self.selection_set(
            node.selection_set,
            named,
            page_counted=paged,
            seen=seen,
        )
        return own + (Estimate(cost.loads, 0) + nested).times(multiplier)

    def _multiplier(
        self, node: FieldNode, definition: GraphQLField, cost: FieldCost, *, page_counted: bool
    ) -> tuple[int, bool]:
        """How many times the field's selection runs, and whether that counted a page."""
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if cost.sized_by is not None and cost.sized_by in arguments:
            return self._length(arguments[cost.sized_by]), False
        for page in cost.slicing:
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
            if page_counted and cost.page_items:
                return 1, False
            return ASSUMED_FANOUT, False
        return 1, page_counted and not cost.page_items

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
