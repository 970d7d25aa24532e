"""graphql-core's executor with plain leaf fields answered without their resolver.

A 20-execution answer is about 175 fields, and most are leaves read straight off the model
(``id``, ``startedAt``, a step's ``kind``). graphql-core takes each through a resolve-info object,
the resolver call, an awaitable check and three completion calls.

Here ``execute_field``, graphql-core's per-field hook for ExecutionContext subclasses, answers a
field that ``fields.install`` listed as a plain leaf (no resolver, extension, permission or
directive; no arguments; a scalar or enum type) by reading and coercing the attribute. graphql-core's
own field loop calls it, so fixes to that loop reach us. Any other field, and any leaf whose value
is unusual (null where the type forbids it, a read or a coercion that raises, a coercion to
null), goes through graphql-core's own path, so the answer and its errors are exactly the standard
ones. An object whose selection is all plain fields, leaves or plain objects and lists of them (a
run's ``id status startedAt steps { kind status }``), is answered whole from a plan kept with the
document's collected sub-selections. With resolver middleware installed (a strawberry extension with a ``resolve`` hook) nothing
is answered here, since the middleware must see every field.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from cachetools import LRUCache
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLResolveInfoHelpers
from graphql.execution import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.schema.computed import Computed

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from graphql import (
        FieldNode,
        GraphQLList,
        GraphQLOutputType,
        GraphQLResolveInfo,
        OperationDefinitionNode,
    )
    from graphql.execution.collect_fields import (
        CollectedFields,
        FieldDetailsList,
        FragmentDetails,
        GroupedFieldSet,
    )
    from graphql.pyutils import AwaitableOrValue, UndefinedType
    from strawberry.types.field import StrawberryField
    from strawberry.types.info import Info

__all__ = [
    "PLAIN_LEAVES",
    "PLAIN_OBJECTS",
    "ROOT_BATCHES",
    "FastExecutionContext",
    "PlainLeaf",
    "PlainObject",
    "Plan",
    "RootBatch",
]

PLAIN_LEAVES = "gateway.plain_leaves"
"""Key, in a GraphQLObjectType's ``extensions``, of its plain leaf fields by name."""
PLAIN_OBJECTS = "gateway.plain_objects"
"""Key, in a GraphQLObjectType's ``extensions``, of its plain fields of an object type (or a list
of one) by name."""


class PlainLeaf(NamedTuple):
    attribute: str
    non_null: bool
    computes: bool
    """Its resolver computes a ``Computed`` value (the schema's default resolver does)."""
    coerce: Callable[[Any], Any]
    """The leaf type's ``coerce_output_value``."""


class PlainObject(NamedTuple):
    attribute: str
    non_null: bool
    computes: bool
    object_type: GraphQLObjectType
    is_list: bool
    items_non_null: bool


Plan = tuple[tuple[str, "PlainLeaf | PlainObject", "Plan | None"], ...]
"""An object's selection when every field in it is plain: (response name, field, the plan of a
plain object's own selection, None for a leaf), in order."""


ROOT_BATCHES = "gateway.root_batches"
"""Key, in the query type's ``extensions``, of its root fields that have a batch form, by name."""


class RootBatch(NamedTuple):
    """A root field's batch form: ``start(info, [argument, ...])`` starts every field's work at
    once and returns, in order, a future of each field's value, or the error a field's argument
    is found to be before any work (as its resolver would raise at once)."""

    start: Callable[[Info[Any, Any], list[Any]], list[asyncio.Future[Any] | Exception]]
    argument: str
    field: StrawberryField
    info_class: type[Info[Any, Any]]
    """The schema's ``StrawberryConfig.info_class``, as strawberry hands its resolvers."""


class _Shared:
    """What a cached document's field nodes decide across requests: their collected
    sub-selections, and the plan of those once built (``None``: they have none)."""

    __slots__ = ("collected", "nodes", "plan", "planned")

    def __init__(self, nodes: tuple[FieldNode, ...], collected: CollectedFields) -> None:
        self.nodes = nodes
        self.collected = collected
        self.plan: Plan | None = None
        self.planned = False


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        self._answer_leaves = middleware is None or not middleware.middlewares
        self.async_helpers = _helpers_without_a_cycle(self)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[Any, Plan | None]] = {}
        self._shares_subfields = _without_conditions(self.operation, self.fragments)

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        """graphql-core's, kept across requests for a document without ``@skip``, ``@include``
        or ``@defer``: the sub-selections of its fields then depend on nothing but the document,
        and a cached document's nodes are the same objects on every request. graphql-core keeps
        them for one execution only, so twenty aliased fields collected their selections anew
        on every request (docs/performance.md, "Wave 3")."""
        shared = self._shared(return_type, field_details_list)
        if shared is None:
            return super().collect_subfields(return_type, field_details_list)
        return shared.collected

    def _shared(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Shared | None:
        """The kept collection of these field nodes, collected now if new; None when the
        document's conditions or deferrals make it depend on more than the nodes."""
        if not self._shares_subfields:
            return None
        if len(field_details_list) == 1:  # nearly always: a field asked once, no fragment
            details = field_details_list[0]
            if details.defer_usage is not None or details.fragment_variable_values is not None:
                return None
            node = details.node
            key: tuple[Any, ...] = (return_type, id(node))
            kept = _SHARED_SUBFIELDS.get(key)
            if kept is not None and kept.nodes[0] is node:
                return kept
            nodes: tuple[FieldNode, ...] = (node,)
        else:
            if any(
                details.defer_usage is not None or details.fragment_variable_values is not None
                for details in field_details_list
            ):
                return None
            nodes = tuple(details.node for details in field_details_list)
            key = (return_type, *map(id, nodes))
            kept = _SHARED_SUBFIELDS.get(key)
            if kept is not None and all(a is b for a, b in zip(kept.nodes, nodes, strict=True)):
                return kept
        collected = super().collect_subfields(return_type, field_details_list)
        # The nodes are kept with the answer, so their ids cannot be reused while it is kept.
        kept = _SHARED_SUBFIELDS[key] = _Shared(nodes, collected)
        return kept

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """An object whose selection is all plain fields (a step's ``kind status``; a run's
        ``id status steps { kind }``) is answered as a dict of its coerced attributes, without
        graphql-core's per-field machinery. Any value out of the ordinary sends the whole object
        through the standard path."""
        if self._answer_leaves:
            plan = self._plan(return_type, field_details_list)
            if plan is not None:
                is_type_of = return_type.is_type_of
                if is_type_of is None or is_type_of(result, info) is True:
                    answered = _answer(plan, result, info)
                    if answered is not None:
                        return answered
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list (or tuple) of such objects (a run's steps) is answered the same way, item by
        item; one item out of the ordinary sends the whole list through the standard path."""
        if self._answer_leaves and result.__class__ in (list, tuple):
            item_type = return_type.of_type
            non_null = isinstance(item_type, GraphQLNonNull)
            object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
            if isinstance(object_type, GraphQLObjectType):
                plan = self._plan(object_type, field_details_list)
                if plan is not None:
                    answered = _answer_all(plan, object_type, info, result, non_null)
                    if answered is not None:
                        return answered
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plan(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan | None:
        key = (return_type, id(field_details_list))
        known = self._plans.get(key)
        if known is not None:
            return known[1]
        shared = self._shared(return_type, field_details_list)
        if shared is None:
            plan = self._build_plan(return_type, field_details_list)
        elif not shared.planned:
            plan = shared.plan = self._build_plan(return_type, field_details_list)
            shared.planned = True
        else:
            plan = shared.plan
        # The list is kept with its plan, so its id cannot be reused while this context lives.
        self._plans[key] = (field_details_list, plan)
        return plan

    def _build_plan(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan | None:
        extensions = return_type.extensions
        leaves: dict[str, PlainLeaf] = extensions.get(PLAIN_LEAVES) or {}
        objects: dict[str, PlainObject] = extensions.get(PLAIN_OBJECTS) or {}
        if not leaves and not objects:
            return None
        grouped, new_defer_usages, *_ = self.collect_subfields(return_type, field_details_list)
        if new_defer_usages or not grouped:
            return None
        plan: list[tuple[str, PlainLeaf | PlainObject, Plan | None]] = []
        for name, details in grouped.items():
            field_name = details[0].node.name.value
            leaf = leaves.get(field_name)
            if leaf is not None:
                plan.append((name, leaf, None))
                continue
            plain_object = objects.get(field_name)
            inner = self._plan(plain_object.object_type, details) if plain_object else None
            if plain_object is None or inner is None:
                return None
            plan.append((name, plain_object, inner))
        return tuple(plan)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """Root fields with a batch form (twenty aliased ``execution(id:)``) are resolved by one
        call of it, then each completed at its own path with its own error, instead of twenty
        resolver calls, completion coroutines and tasks. Any other field goes field by field."""
        batches: dict[str, RootBatch] | None = (
            parent_type.extensions.get(ROOT_BATCHES) if path is None else None
        )
        if not batches or not self._answer_leaves:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        names = [n for n, d in grouped_field_set.items() if d[0].node.name.value in batches]
        if len(names) < 2:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable: list[str] = []
        batched: list[tuple[str, FieldDetailsList, RootBatch]] = []
        try:
            for name, details in grouped_field_set.items():
                batch = batches.get(details[0].node.name.value)
                if batch is not None:
                    batched.append((name, details, batch))
                    results[name] = None  # its place in the answer, filled by the batch
                    continue
                field_path = Path(path, name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, details, field_path, position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if self.is_awaitable(result):
                        awaitable.append(name)
        except Exception:
            if awaitable:
                self.settle_in_background([results[name] for name in awaitable])
            raise

        by_field: dict[str, list[tuple[str, FieldDetailsList, RootBatch]]] = {}
        for entry in batched:
            by_field.setdefault(entry[1][0].node.name.value, []).append(entry)
        completing = [
            self._complete_batched(parent_type, group, results, position_context)
            for group in by_field.values()
        ]

        async def get_results() -> dict[str, Any]:
            done = await gather_with_cancel(*completing, *(results[n] for n in awaitable))
            results.update(zip(awaitable, done[len(completing) :], strict=True))
            return results

        return get_results()

    async def _complete_batched(
        self,
        parent_type: GraphQLObjectType,
        batched: list[tuple[str, FieldDetailsList, RootBatch]],
        results: dict[str, Any],
        position_context: Any,
    ) -> None:
        """Each field completed at its path, its errors where and when its resolver's would be:
        an argument's at once, in the document's order; a value's as its future settles."""
        asked: list[tuple[str, FieldDetailsList, GraphQLResolveInfo[Any], Path]] = []
        arguments: list[Any] = []
        batch = batched[0][2]
        for name, details, _ in batched:
            field_def = parent_type.fields[details[0].node.name.value]
            field_path = Path(None, name, parent_type.name)
            info = self.build_resolve_info(
                field_def, [d.node for d in details], parent_type, field_path
            )
            try:
                values = get_argument_values(field_def, details[0].node, self.variable_values)
            except Exception as error:
                self.handle_field_error(error, field_def.type, details, field_path)
                continue
            asked.append((name, details, info, field_path))
            arguments.append(values[batch.argument])
        if not asked:
            return
        info_of_first = batch.info_class(_raw_info=asked[0][2], _field=batch.field)
        started = batch.start(info_of_first, arguments)
        settled: list[int] = []
        for index, item in enumerate(started):
            if isinstance(item, Exception):
                self._complete_batched_field(asked[index], item, results, position_context)
            else:
                item.add_done_callback(functools.partial(_settled, settled, index))
        pending = [item for item in started if not isinstance(item, Exception)]
        if pending:
            await asyncio.wait(pending)
        for index in settled:
            future = cast("asyncio.Future[Any]", started[index])
            value = future.exception() or future.result()
            completed = self._complete_batched_field(asked[index], value, results, position_context)
            if completed is not None:
                await completed

    def _complete_batched_field(
        self,
        asked: tuple[str, FieldDetailsList, GraphQLResolveInfo[Any], Path],
        value: Any,
        results: dict[str, Any],
        position_context: Any,
    ) -> Awaitable[None] | None:
        name, details, info, field_path = asked
        return_type = info.return_type
        try:
            if isinstance(value, Exception):
                raise value
            if value is not None and isinstance(return_type, GraphQLObjectType):
                # What graphql-core's complete_value does for a nullable object's value, without
                # its walk through every other kind of type.
                completed = self.complete_object_value(
                    return_type, details, info, field_path, value, position_context
                )
            else:
                completed = self.complete_value(
                    return_type, details, info, field_path, value, position_context
                )
        except Exception as error:
            self.handle_field_error(error, return_type, details, field_path)
            completed = None
        if not self.is_awaitable(completed):
            results[name] = completed
            return None

        async def awaited() -> None:
            try:
                results[name] = await completed
            except Exception as error:
                self.handle_field_error(error, return_type, details, field_path)
                results[name] = None

        return awaited()

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        if self._answer_leaves:
            leaves: dict[str, PlainLeaf] | None = parent_type.extensions.get(PLAIN_LEAVES)
            leaf = leaves.get(field_details_list[0].node.name.value) if leaves else None
            if leaf is not None:
                try:
                    value = getattr(source, leaf.attribute)
                    if value.__class__ is Computed:
                        # Computed when asked, perhaps awaitable: the standard path does it.
                        return super().execute_field(
                            parent_type, source, field_details_list, path, position_context
                        )
                    if value is None:
                        if not leaf.non_null:
                            return None
                    else:
                        coerced = leaf.coerce(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
                except Exception:  # noqa: S110 - the standard path below reports it
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


_SHARED_SUBFIELDS: LRUCache[tuple[Any, ...], _Shared] = LRUCache(maxsize=4096)
"""Collected sub-selections (and their plans) by return type and field nodes, across requests
(bounded)."""
_CONDITIONS = frozenset({"skip", "include", "defer", "stream"})
_WITHOUT_CONDITIONS: LRUCache[int, tuple[OperationDefinitionNode, bool]] = LRUCache(maxsize=1024)


def _settled(settled: list[int], index: int, _future: asyncio.Future[Any]) -> None:
    settled.append(index)


def _without_conditions(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDetails]
) -> bool:
    """Whether no selection of the operation (its fragments included) carries a directive that
    makes what is selected depend on the variables or the delivery; kept per operation node."""
    kept = _WITHOUT_CONDITIONS.get(id(operation))
    if kept is not None and kept[0] is operation:
        return kept[1]
    selection_sets = [
        operation.selection_set,
        *(f.definition.selection_set for f in fragments.values()),
    ]
    plain = True
    while selection_sets and plain:
        for selection in selection_sets.pop().selections:
            if any(d.name.value in _CONDITIONS for d in selection.directives or ()):
                plain = False
                break
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                selection_sets.append(inner)
    _WITHOUT_CONDITIONS[id(operation)] = (operation, plain)
    return plain


def _answer(plan: Plan, source: Any, info: GraphQLResolveInfo[Any]) -> dict[str, Any] | None:
    """The object's answer, or None when a value needs the standard path (computed when asked
    and perhaps awaitable, null where the type forbids it, a read or a coercion that fails or
    gives null, an object that is not of its type)."""
    answered: dict[str, Any] = {}
    try:
        for name, field, inner in plan:
            value = getattr(source, field.attribute)
            if value.__class__ is Computed:
                if not (value.sync and field.computes):
                    return None
                value = value.compute(source)
            if value is None:
                if field.non_null:
                    return None
                answered[name] = None
                continue
            if isinstance(field, PlainLeaf):
                coerced = field.coerce(value)
                if coerced is None or coerced is Undefined:
                    return None
            else:
                assert inner is not None  # a plain object's plan is built with it
                coerced = _answer_nested(field, inner, value, info)
                if coerced is None:
                    return None
            answered[name] = coerced
    except Exception:  # the standard path reports it
        return None
    return answered


def _answer_nested(
    field: PlainObject, plan: Plan, value: Any, info: GraphQLResolveInfo[Any]
) -> Any:
    if field.is_list:
        if value.__class__ not in (list, tuple):
            return None
        return _answer_all(plan, field.object_type, info, value, field.items_non_null)
    is_type_of = field.object_type.is_type_of
    if is_type_of is not None and is_type_of(value, info) is not True:
        return None
    return _answer(plan, value, info)


def _answer_all(
    plan: Plan,
    object_type: GraphQLObjectType,
    info: GraphQLResolveInfo[Any],
    items: list[Any] | tuple[Any, ...],
    non_null: bool,
) -> list[Any] | None:
    is_type_of = object_type.is_type_of
    answered: list[Any] = []
    for item in items:
        if item is None:
            if non_null:
                return None
            answered.append(None)
            continue
        if is_type_of is not None and is_type_of(item, info) is not True:
            return None
        one = _answer(plan, item, info)
        if one is None:
            return None
        answered.append(one)
    return answered


def _helpers_without_a_cycle(context: FastExecutionContext) -> GraphQLResolveInfoHelpers:
    """The resolve-info helpers graphql-core builds, reaching the execution context weakly.

    graphql-core keeps ``async_helpers`` made of bound methods of the execution context itself,
    a reference cycle that holds the request's whole context value (loaders, loaded executions)
    until the garbage collector runs. Through a weak reference the cycle is gone and a request's
    objects are freed as soon as it is answered (``tests/e2e/test_loading.py``). While helpers can
    be called, execution is running and holds the context: a subscription's per-event executors
    are made by a closure over it, and incremental delivery (``@defer``, whose sub-executors could
    outlive it) is off in this schema.
    """
    reference = weakref.ref(context)

    def gather(values: Any) -> Any:
        executing = reference()
        assert executing is not None  # helpers are only called while execution runs
        return executing.gather_async_work(values)

    def track(values: Any) -> None:
        executing = reference()
        assert executing is not None
        executing.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)
