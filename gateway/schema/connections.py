"""Relay-style connection plumbing shared by the paged fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from graphql import GraphQLError

from gateway.core.cursors import InvalidCursor
from gateway.core.errors import bad_user_input
from gateway.core.feed import MAX_FIRST
from gateway.gate import ListSize
from gateway.schema.context import Context
from gateway.schema.errors import upstream_extensions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from strawberry.types import Info

    from adapters.errors import UpstreamError

__all__ = [
    "MAX_FIRST",
    "PAGED",
    "PAGE_ITEMS",
    "PageInfo",
    "SourceFailure",
    "check_first",
    "decode_cursor",
    "decode_position",
    "report_failures",
]

_Position = TypeVar("_Position")

PAGED = ListSize(slicing_arguments=["first"])
"""A paged field: its ``first`` (or its default) is how many items its page holds."""
PAGE_ITEMS = ListSize(page_items=True)
"""A connection's ``edges``: the page's items, which its field's ``first`` already counted."""


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A source that could not answer for this page; the rest still did.")
class SourceFailure:
    source: str
    code: str
    message: str


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise bad_user_input(f"first: must be between 1 and {MAX_FIRST}, got {first}")
    return first


def decode_cursor(context: Context, kind: str, after: str | None) -> dict[str, object] | None:
    if after is None:
        return None
    try:
        return context.runtime.cursors.decode(kind, after)
    except InvalidCursor as exc:
        raise bad_user_input(f"after: {exc}") from None


def decode_position(
    context: Context, kind: str, after: str, load: Callable[[dict[str, Any]], _Position]
) -> _Position:
    """The typed position a cursor holds; BAD_USER_INPUT when it is not one of ours for ``kind``."""
    try:
        return context.runtime.cursors.decode_as(kind, after, load)
    except InvalidCursor as exc:
        raise bad_user_input(f"after: {exc}") from None


def report_failures(
    info: Info[Context, None], failures: Mapping[str, UpstreamError]
) -> list[SourceFailure]:
    """Each failed source for ``failedSources``, and as a typed error in the response's ``errors``.

    Clients rarely select ``failedSources``; the error (with ``extensions.code`` and ``source``,
    at the connection's path) tells them the answer is partial even when they did not ask.
    """
    path = info.path.as_list()
    reported = []
    for source, error in failures.items():
        reported.append(SourceFailure(source=source, code=error.code, message=error.message))
        extensions = {**upstream_extensions(error), "source": source}
        info.context.extra_errors.append(
            GraphQLError(error.message, path=path, extensions=extensions)
        )
    return reported
