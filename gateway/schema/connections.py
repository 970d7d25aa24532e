"""Relay-style connection plumbing shared by the paged fields."""

from __future__ import annotations

import strawberry

from gateway.core.cursors import InvalidCursor
from gateway.core.errors import bad_user_input
from gateway.schema.context import Context

__all__ = ["MAX_FIRST", "PageInfo", "SourceFailure", "check_first", "decode_cursor"]

MAX_FIRST = 100
"""The most items one page may ask for."""


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
