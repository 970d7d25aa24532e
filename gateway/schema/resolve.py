"""Turning client ids into loaded objects, with the gateway's checks in front of any upstream call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway import ids
from gateway.errors import GatewayError, bad_user_input
from gateway.schema.types import Approval, Execution, Step

if TYPE_CHECKING:
    from strawberry.types import Info

    from gateway.context import Context

__all__ = ["execution_ref", "load_execution", "load_node"]


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
    if source not in info.context.runtime.sources:
        known = ", ".join(sorted(info.context.runtime.sources))
        raise bad_user_input(f"unknown source '{source}' (configured: {known})")


async def load_execution(info: Info[Context, None], ref: ids.ExecutionRef) -> Execution:
    found = await info.context.loaders.execution(ref.source, ref.native_id)
    return Execution.from_model(ref.source, found)


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
