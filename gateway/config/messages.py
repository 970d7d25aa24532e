"""A problem in the file's words, named by its key (``source "rv": kind: …``), in file order, and
with the variable or flag that set the key (``(set by GATEWAY__SERVER__PORT)``)."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any

from gateway.config.keys import URL, Loc, as_tables, close_to
from gateway.config.sources import in_words
from gateway.config.tables import GatewayConfig

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pydantic_core import ErrorDetails

__all__ = ["in_file_order", "say"]

WORDS = {"int": "an integer", "float": "a number", "bool": "true or false"}
WORDS |= dict.fromkeys(("str", "string"), "a string")
WORDS |= dict.fromkeys(("list", "tuple", "set", "frozen_set"), "a list")
WORDS |= dict.fromkeys(("dict", "dataclass", "model", "model_attributes"), "a table")


def in_file_order(
    broken: Iterable[tuple[Loc, str, bool]], raw: dict[str, Any], set_by: Mapping[Loc, str]
) -> list[str]:
    """Each (key, problem, whether the key is unknown) as a line, in the order of the file."""
    lines = []
    for loc, message, _ in sorted(broken, key=lambda b: _order(b[0], raw, unknown=b[2])):
        by = [f" (set by {v})" for at, v in set_by.items() if loc[: len(at)] == at[: len(loc)]]
        lines.append(_where(loc, raw) + message + "".join(by[:1]))
    return lines


def say(error: ErrorDetails, raw: dict[str, Any]) -> str:
    """A pydantic error in the file's words."""
    loc, kind, value, ctx = error["loc"], error["type"], error["input"], error.get("ctx") or {}
    family = kind.removesuffix("_type").removesuffix("_parsing")
    source = (
        as_tables(raw.get("sources"))[int(loc[1])]
        if loc[0] == "sources" and len(loc) == 3
        else None
    )
    if "problem" in ctx:
        return str(ctx["problem"])
    if source is not None and (words := in_words(source, str(loc[2]), kind)):
        return words
    if kind == "extra_forbidden":
        return "unknown key" + close_to(str(loc[-1]), _keys(GatewayConfig, loc[:-1]))
    if kind == "missing":
        return "missing (required)"
    if family in WORDS:
        return (
            f"expected {WORDS[family]}, got {WORDS.get(type(value).__name__, 'a table')} {value!r}"
        )
    if kind in ("literal_error", "enum"):
        choices = ctx["expected"].replace(" or ", ", ").replace("'", "").split(", ")
        hint = close_to(str(value), choices, listing=False)
        return f"'{value}' is not one of {', '.join(choices)}{hint}"
    if kind in ("greater_than", "greater_than_equal") and ctx.get("gt", ctx.get("ge")) == 0:
        return "must be positive" if kind == "greater_than" else "must be zero or more"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"must be at {'least' if 'ge' in ctx else 'most'} {ctx.get('ge', ctx.get('le'))}"
    if kind == "string_pattern_mismatch":
        meant = "be an http(s) URL" if ctx["pattern"] == URL else f"match {ctx['pattern']}"
        return f"'{value}' must {meant}"
    return "name at least one" if kind == "too_short" else error["msg"]


def _keys(table: Any, loc: Loc) -> list[str]:
    """The keys of the table at ``loc``, found by following the fields' types."""
    for part in loc:
        if isinstance(part, str):
            table = _table_in(table.__pydantic_fields__[part].annotation)
    return list(getattr(table, "__pydantic_fields__", {}))


def _table_in(annotation: Any) -> Any:
    if hasattr(annotation, "__pydantic_fields__"):
        return annotation
    return next((t for a in typing.get_args(annotation) if (t := _table_in(a))), None)


def _where(loc: Loc, raw: dict[str, Any]) -> str:
    """``server.port: ``; a source or target by its name (``source "rv": ``), else its place."""
    head = ""
    if len(loc) > 1 and loc[0] in ("sources", "notifications") and isinstance(loc[1], int):
        names = [table.get("name") for table in as_tables(raw[loc[0]])]
        name, label = names[loc[1]], str(loc[0]).removesuffix("s")
        unique = isinstance(name, str) and name and name not in names[: loc[1]]
        head, loc = (f'{label} "{name}": ' if unique else f"{label} #{loc[1] + 1}: "), loc[2:]
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return head + (f"{text.lstrip('.')}: " if text else "")


def _order(loc: Loc, raw: Any, *, unknown: bool) -> list[int]:
    """Each key's place in its table (an unknown one before the rest, a missing one after)."""
    places: list[int] = []
    for part in loc:
        keys = list(
            raw if isinstance(raw, dict) else range(len(raw)) if isinstance(raw, list) else ()
        )
        if part not in keys:
            return [*places, 1_000_000]
        places.append(keys.index(part))
        raw = raw[part]
    return [*places[:-1], -1] if unknown else places
