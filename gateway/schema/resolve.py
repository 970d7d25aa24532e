"""Turning client ids into loaded objects, with the gateway's checks in front of any upstream call."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from gateway.core import ids
from gateway.core.errors import GatewayError, bad_user_input
from gateway.core.futures import then
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from collections.abc import Sequence

    from strawberry.types import Info

    from gateway.schema.context import Context

__all__ = [
    "execution_ref",
    "load_execution",
    "load_executions",
    "load_node",
    "start_executions",
]


def execution_ref(info: Info[Context, None], value: str) -> ids.ExecutionRef:
    try:
        ref = ids.parse_id(value)
    except ids.InvalidId as exc:
        raise bad_user_input(str(exc)) from None
    if not isinstance(ref, ids.ExecutionRef):
        raise bad_user_input("expected an execution id ('<source>:<native id>')")
    _check_source(info, ref.source)
    return ref


def _check_source(info: Info[Context, None], source: str) -> None:
    visible = info.context.visible_sources()
    if source not in visible:
        known = ", ".join(sorted(visible))
        raise bad_user_input(f"unknown source '{source}' (configured: {known})")


async def load_execution(info: Info[Context, None], ref: ids.ExecutionRef) -> Execution:
    found = await info.context.loaders.execution(ref.source, ref.native_id)
    return Execution.from_model(ref.source, found)


async def load_executions(
    info: Info[Context, None], values: Sequence[str]
) -> list[Execution | Exception]:
    """Each id's execution, or the error that id met, in the order asked.

    One gather over the loads' futures: an id costs no task of its own. graphql-core completes
    an exception in the list as that index's own error (null plus an error at its path).
    """
    started = start_executions(info, values)
    loading = [item for item in started if isinstance(item, asyncio.Future)]
    loaded = iter(await asyncio.gather(*loading, return_exceptions=True))
    answers: list[Execution | Exception] = []
    for item in started:
        found = item if isinstance(item, GatewayError) else next(loaded)
        if isinstance(found, BaseException) and not isinstance(found, Exception):
            raise found
        answers.append(found)
    return answers


def start_executions(
    info: Info[Context, None], values: Sequence[str]
) -> list[asyncio.Future[Execution] | GatewayError]:
    """Each id's load, started now (the loaders batch them per source), or the error the id
    itself is, found before any call: ``executions(ids:)``'s start, and ``execution(id:)``'s
    batch form, which resolves many aliased ones at once (``BATCHED_BY``)."""
    loaders = info.context.loaders
    started: list[asyncio.Future[Execution] | GatewayError] = []
    for value in values:
        try:
            ref = execution_ref(info, value)
        except GatewayError as exc:
            started.append(exc)
            continue
        loading = loaders.execution(ref.source, ref.native_id)
        started.append(then(loading, functools.partial(Execution.from_model, ref.source)))
    return started


async def load_node(info: Info[Context, None], value: str) -> Execution | Step | Approval:
    try:
        ref = ids.parse_id(value)
    except ids.InvalidId as exc:
        raise bad_user_input(str(exc)) from None
    execution_ref_ = ref if isinstance(ref, ids.ExecutionRef) else ref.execution
    _check_source(info, execution_ref_.source)
    execution = await load_execution(info, execution_ref_)
    if isinstance(ref, ids.ExecutionRef):
        return execution
    if isinstance(ref, ids.StepRef):
        step = next((s for s in execution.step_list() if s.native_id == ref.step_native_id), None)
        if step is None:
            raise GatewayError(
                "no such step in this execution", "NOT_FOUND", source=ref.execution.source
            )
        return step
    approval = next((a for a in execution.approval_list() if a._model.key == ref.key), None)
    if approval is None:
        raise GatewayError(
            "no such approval in this execution", "NOT_FOUND", source=ref.execution.source
        )
    return approval
