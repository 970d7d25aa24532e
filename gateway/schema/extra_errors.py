"""Non-fatal errors: a resolver answers and still reports what went wrong.

A resolver that answers in part (the merged feed without a source that failed) appends
``GraphQLError``s, already carrying their ``extensions.code`` (and ``source``), to
``info.context.extra_errors``; after execution this extension adds them to the result's
``errors`` while ``data`` keeps the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ExtraErrors"]


class ExtraErrors(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        extra = getattr(context, "extra_errors", None)
        result = self.execution_context.result
        if not extra or result is None:
            return
        # After execution, so Schema.process_errors has run: these are already classified.
        result.errors = [*(result.errors or ()), *extra]
        extra.clear()
