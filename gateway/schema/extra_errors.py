"""Non-fatal errors: a resolver answers and still reports what went wrong.

A resolver that answers in part (the merged feed without a source that failed) appends
``GraphQLError``s, already carrying their ``extensions.code`` (and ``source``), to
``info.context.extra_errors``; after execution ``merge_extra_errors`` (called by the schema's
extension, gateway/schema/operation.py) adds them to the result's ``errors`` while ``data``
keeps the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strawberry.types import ExecutionContext

__all__ = ["merge_extra_errors"]


def merge_extra_errors(execution_context: ExecutionContext) -> None:
    """Once the operation has executed (so Schema.process_errors has run: these are classified)."""
    extra = getattr(execution_context.context, "extra_errors", None)
    result = execution_context.result
    if not extra or result is None:
        return
    result.errors = [*(result.errors or ()), *extra]
    extra.clear()
